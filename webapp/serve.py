"""Serve the app with a production WSGI server: ``python -m webapp.serve`` (what ``make run`` starts).

gunicorn (the default on POSIX): the app is loaded and warmed once in the master process (the default
result computed, the map page rendered), then ``WORKERS`` worker processes are forked, each answering
with ``THREADS`` threads. Worker processes run Python in parallel, which one process cannot (a new
recompute is some 15-25 ms of CPU under the GIL). What they must agree on is in the store: the data
revision (each process drops its caches when the head moves), the network-import state and the
robustness run (``webapp.store.JobBoard``); a new network version is seen through its folder.

waitress (``SERVER=waitress``, or where gunicorn is not installed): one process, ``THREADS`` threads.

Environment: HOST (default 127.0.0.1), PORT (default 5000), SERVER (gunicorn | waitress),
WORKERS (default: the cores, 2 to 4), THREADS (gunicorn: 4 per worker; waitress: 4 per core).
"""
from __future__ import annotations

import gc
import os
import threading
import time

STARTED = time.perf_counter()
if __name__ == "__main__":  # ``python -m webapp.serve``: see start_up (an import by a test changes nothing)
    gc.disable()

from . import create_app  # noqa: E402  (after gc.disable: this imports Flask and, in create_app, the rest)

LANGS_WARMED = ("en",)  # the first page's language is rendered before listening


def default_workers() -> int:
    """One worker process per core, at least 2 (one busy recompute never stalls the rest), at most 4."""
    return min(4, max(2, os.cpu_count() or 1))


def default_threads(server: str = "waitress") -> int:
    """gunicorn: 4 threads per worker; waitress: 4 per core (I/O and cached bytes dominate), at least 4."""
    return 4 if server == "gunicorn" else max(4, 4 * (os.cpu_count() or 1))


def default_server() -> str:
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return "waitress"
    return "gunicorn" if os.name == "posix" else "waitress"


def warm(app) -> None:
    """Compute the default result once before listening, so the first page needs no search; render the
    first page too (kept as bytes). Background matrix builds are waited for: nothing may hold a lock
    when gunicorn forks its workers."""
    with app.app_context():
        app.extensions["atlas"].results()
    client = app.test_client()
    for lang in LANGS_WARMED:
        client.get(f"/?lang={lang}")
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name == "city-matrix":
            thread.join()


def _gunicorn(app, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    def post_fork(_server, _worker):
        app.extensions["store"].engine.dispose(close=False)  # no database connection shared across processes

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                               "worker_class": "gthread", "preload_app": True, "timeout": 120, "keepalive": 5,
                               "graceful_timeout": 10, "post_fork": post_fork, "proc_name": "monotown-atlas"}.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def start_up():
    """The app, created and warmed with the cyclic garbage collector off (about a tenth of start-up:
    the imports and the data allocate some million objects and leave almost no garbage: about 2,000
    unreachable objects on the shipped data). Then what was loaded is frozen (never scanned again,
    and shared with gunicorn's forked workers, whose writes would otherwise copy its pages) and the
    collector is turned on again."""
    was_enabled = gc.isenabled() or __name__ == "__main__"
    gc.disable()
    try:
        app = create_app()
        warm(app)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return app


def main() -> None:
    app = start_up()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    server = os.environ.get("SERVER") or default_server()
    if server not in ("gunicorn", "waitress"):
        raise SystemExit(f"SERVER must be gunicorn or waitress, got '{server}'")
    threads = int(os.environ.get("THREADS", default_threads(server)))
    ready, cpu = time.perf_counter() - STARTED, time.process_time()
    if server == "gunicorn":
        workers = int(os.environ.get("WORKERS", default_workers()))
        print(f"Monotown Scenario Atlas on http://{host}:{port} (gunicorn, {workers} workers x {threads} threads; "
              f"ready in {ready:.2f} s, {cpu:.2f} s of CPU)", flush=True)
        app.extensions["store"].engine.dispose()
        _gunicorn(app, host, port, workers, threads)
        return
    from waitress import serve

    print(f"Monotown Scenario Atlas on http://{host}:{port} (waitress, {threads} threads; "
          f"ready in {ready:.2f} s, {cpu:.2f} s of CPU)", flush=True)
    serve(app, host=host, port=port, threads=threads, ident="monotown-atlas", channel_timeout=60,
          connection_limit=200)


if __name__ == "__main__":
    main()
