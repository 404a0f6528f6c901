"""Serve the app with a production WSGI server: ``python -m webapp.serve`` (what ``make run``
starts).

gunicorn (the default on POSIX): the app is loaded once, its default result computed and its first
page rendered, then ``WORKERS`` worker processes are forked, each answering with ``THREADS`` threads
and caching for itself (webapp.cache). Worker processes run Python in parallel, which one process
cannot (a new recompute is some 15-25 ms of CPU under the GIL). They share only the database (and
the networks folder): every cached answer is keyed by the store's head revision and the networks
folder's stamp, so a change made through one worker is seen by the others at their next request.
Where nginx is installed (``make install``), it listens on HOST:PORT, reads whole requests and
passes them to gunicorn on loopback (webapp.proxy).

waitress (``SERVER=waitress``, or where gunicorn is not installed): one process, ``THREADS``
threads.

Environment: HOST (default 127.0.0.1), PORT (default 5000), SERVER (gunicorn | waitress), WORKERS
(default: the cores, 2 to 4), THREADS (gunicorn: 4 per worker; waitress: 4 per core).
"""

from __future__ import annotations

import gc
import os
import time

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import create_app
from webapp.proxy import Proxy, free_port, nginx

STARTED = time.perf_counter()
GC_THRESHOLD = 10_000  # allocations between two young collections (Python's default: 700)


def default_workers() -> int:
    """One worker process per core, at least 2 (a busy recompute stalls no other), at most 4."""
    return min(4, max(2, os.cpu_count() or 1))


def default_threads(server: str = "waitress") -> int:
    """Gunicorn: 4 threads per worker; waitress: 4 per core (I/O and cached bytes dominate)."""
    return 4 if server == "gunicorn" else max(4, 4 * (os.cpu_count() or 1))


def default_server() -> str:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return "waitress"
    return "gunicorn" if os.name == "posix" else "waitress"


def warm(app: Flask) -> None:
    """Compute the default result and render the first page (English) before listening."""
    status = app.test_client().get("/?lang=en").status_code
    if status != 200:
        raise RuntimeError(f"the first page answered {status} at start-up")


def _gunicorn(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    def post_fork(_server, _worker):
        app.extensions["store"].engine.dispose(close=False)  # no connection shared across processes

    program, proxy, bind = nginx(), None, f"{host}:{port}"
    if program:  # nginx on HOST:PORT reads whole requests, then passes them to gunicorn on loopback
        upstream = free_port()
        proxy = Proxy(
            program,
            host=host,
            port=port,
            upstream=upstream,
            upload_mb=int(app.config["NETWORK_UPLOAD_MB"]),
        )
        bind = f"127.0.0.1:{upstream}"
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=1, x_proto=1
        )  # the client's address, as nginx saw it

    class Server(BaseApplication):
        def load_config(self):
            settings = {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "when_ready": lambda _s: proxy and proxy.start(),
                "on_exit": lambda _s: proxy and proxy.stop(),
                "worker_class": "gthread",
                "preload_app": True,
                "timeout": 120,
                "keepalive": 5,
                "graceful_timeout": 10,
                "post_fork": post_fork,
                "proc_name": "monotown-atlas",
                # no control socket: gunicorn 27 puts one per user
                # ($HOME/.gunicorn/gunicorn.ctl), which a second server would take over
                "control_socket_disable": True,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def main() -> None:
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    server = os.environ.get("SERVER") or default_server()
    if server not in ("gunicorn", "waitress"):
        raise SystemExit(f"SERVER must be gunicorn or waitress, got '{server}'")
    threads = int(os.environ.get("THREADS", default_threads(server)))
    app = create_app()
    warm(app)
    # what start-up made (libraries, the method, the default result) lives as long as the server:
    # out of the collector's full passes (65 ms each, a stall of every thread of the process) and,
    # under gunicorn, shared with the workers without copy-on-write (the gc module's advice)
    gc.collect()
    gc.freeze()
    # a recompute leaves some 3,000 containers in the cache: with the default first threshold
    # (700) the collector ran several times per recompute and a full pass (100 ms over a full
    # cache) every 25 or so; at 10,000 a new recompute takes 12-16 ms, not 17-24
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    ready, cpu = time.perf_counter() - STARTED, time.process_time()
    if server == "gunicorn":
        workers = int(os.environ.get("WORKERS", default_workers()))
        print(
            f"Monotown Scenario Atlas on http://{host}:{port} (gunicorn, {workers} workers x "
            f"{threads} threads{', behind nginx' if nginx() else ''}; ready in {ready:.2f} s, "
            f"{cpu:.2f} s of CPU)",
            flush=True,
        )
        app.extensions["store"].engine.dispose()
        _gunicorn(app, host, port, workers, threads)
        return
    from waitress import serve

    print(
        f"Monotown Scenario Atlas on http://{host}:{port} (waitress, {threads} threads; "
        f"ready in {ready:.2f} s, {cpu:.2f} s of CPU)",
        flush=True,
    )
    serve(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="monotown-atlas",
        channel_timeout=60,
        connection_limit=200,
    )


if __name__ == "__main__":
    main()
