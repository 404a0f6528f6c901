"""Serve the app with a production WSGI server: ``python -m webapp.serve`` (what ``make run`` starts).

gunicorn (the default on POSIX): the app is loaded once in the master process with its first page
ready, then ``WORKERS`` worker processes are forked, each answering with ``THREADS`` threads. The first
page (default parameters) is read from the folder of answers the workers share (``webapp.shared``) when
a previous start rendered it from the same code, data and stored state (the "snapshot"; the default
result is then computed after listening, ``warm_rest``); else the default result is computed and the
page rendered (and written there). Worker processes run Python in parallel, which one process cannot (a
new recompute is some 15-25 ms of CPU under the GIL). What they must agree on is in the store: the data
revision (each process drops its caches when the head moves), the network-import state and the
robustness run (``webapp.store.JobBoard``); a new network version is seen through its folder.

waitress (``SERVER=waitress``, or where gunicorn is not installed): one process, ``THREADS`` threads.

Environment: HOST (default 127.0.0.1), PORT (default 5000), SERVER (gunicorn | waitress),
WORKERS (default: the cores, 2 to 4), THREADS (gunicorn: 4 per worker; waitress: 4 per core).
"""
from __future__ import annotations

import gc
import os
import shutil
import threading
import time

STARTED = time.perf_counter()
if __name__ == "__main__":  # ``python -m webapp.serve``: see start_up (an import by a test changes nothing)
    gc.disable()

from werkzeug.middleware.proxy_fix import ProxyFix  # noqa: E402

from . import create_app, shared, template_code  # noqa: E402  (after gc.disable: this imports Flask and, in create_app, the rest)
from .proxy import Proxy, free_port, nginx  # noqa: E402

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


def warm(app) -> str:
    """Make the first page ready before listening: read from the folder of shared answers when the
    previous start (or a worker) rendered it from the same code, data and stored state (the default
    result is then computed after listening: ``warm_rest``), else by computing the default result and
    rendering the page (kept in memory and written to the folder for the workers and the next start).
    Background matrix builds are waited for: nothing may hold a lock when gunicorn forks its workers.
    Returns how: "snapshot" or "rendered"."""
    svc = share(app)
    svc.fingerprint = shared.fingerprint(app)  # before rendering: a change meanwhile makes what is saved stale
    if all(load_first_page(app, lang) for lang in LANGS_WARMED):
        return "snapshot"
    with app.app_context():
        svc.results()
    client = app.test_client()
    for lang in LANGS_WARMED:
        client.get(f"/?lang={lang}")
    _join_matrix_builds()
    return "rendered"


def share(app):
    """The atlas service with its folder of shared answers (``webapp.shared``): ``RENDERED_DIR`` from the
    configuration, else ``instance/rendered``."""
    svc = app.extensions["atlas"]
    if svc.shared is None:
        svc.shared = shared.SharedRendered(app.config.get("RENDERED_DIR") or os.path.join(app.instance_path, "rendered"))
    return svc


def _join_matrix_builds() -> None:
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name == "city-matrix":
            thread.join()


def warm_rest(app) -> threading.Thread:
    """After listening (each gunicorn worker, or the waitress process): the default result, Folium's
    import and the sweep of the shared folder, in the background. A request meanwhile is answered as
    ever: one asking for the same result waits for
    this computation (``Atlas._once``), any other computes its own."""
    def run():
        svc = app.extensions["atlas"]
        with app.app_context():
            svc.results()
        from .mapview import fullscreen_class

        fullscreen_class()  # Folium imported (and its templates compiled) before a page needs it
        if svc.shared is not None and svc.fingerprint:
            svc.shared.sweep(svc.fingerprint)  # other fingerprints' answers removed (after a change: many)
            shutil.rmtree(os.path.join(app.instance_path, "startup"), ignore_errors=True)  # an earlier layout's
    thread = threading.Thread(target=run, name="warm-rest", daemon=True)
    thread.start()
    return thread


# -- the first page at start-up --------------------------------------------------------------------------
# The first page (default parameters, LANGS_WARMED) is an answer like any other in the folder of shared
# answers: named by the fingerprint (code, templates, data and method files, library versions,
# configuration, network versions), the stored state (the database's identity, its head revision and that
# revision's stamp, the networks folder's stamp) and its key. A start finds it there only when nothing it
# depends on has changed since it was rendered.

def _page_key(app, lang: str) -> tuple:
    from .views import _page_key

    with app.test_request_context(f"/?lang={lang}"):
        return _page_key()


def first_page_name(app, lang: str) -> str | None:
    """The first page's file in the folder of shared answers as the stored state is now; None when the
    folder is not used (no fingerprint yet, or a data note is shown, as after setting aside a corrupt
    database)."""
    return app.extensions["atlas"].shared_name(_page_key(app, lang))


def load_first_page(app, lang: str) -> bool:
    """Put the first page in ``lang`` in memory from the folder of shared answers (True), if it is there."""
    return app.extensions["atlas"].preload_shared(_page_key(app, lang))


def _gunicorn(app, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    def post_fork(_server, _worker):
        app.extensions["store"].engine.dispose(close=False)  # no database connection shared across processes

    def post_worker_init(_worker):
        warm_rest(app)  # once the worker handles its signals (a stop during the warm-up is not lost)

    program, proxy, bind = nginx(), None, f"{host}:{port}"
    if program:  # nginx on HOST:PORT reads whole requests, then passes them to gunicorn on loopback
        upstream = free_port()
        proxy = Proxy(program, host=host, port=port, upstream=upstream,
                      upload_mb=int(app.config["NETWORK_UPLOAD_MB"]))
        bind = f"127.0.0.1:{upstream}"
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # the client's address, as nginx saw it

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": bind, "workers": workers, "threads": threads,
                               "when_ready": lambda _s: proxy and proxy.start(),
                               "on_exit": lambda _s: proxy and proxy.stop(),
                               "worker_class": "gthread", "preload_app": True, "timeout": 120, "keepalive": 5,
                               "graceful_timeout": 10, "post_fork": post_fork, "post_worker_init": post_worker_init,
                               "proc_name": "monotown-atlas",
                               # no control socket: gunicorn 27 puts one per user ($HOME/.gunicorn/gunicorn.ctl),
                               # which a second server on the machine would take over
                               "control_socket_disable": True}.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def start_up():
    """The app and how its first page was made ("snapshot" or "rendered": ``warm``), created and warmed
    with the cyclic garbage collector off (about a tenth of start-up: the imports and the data allocate some million objects and leave almost no garbage: about 2,000
    unreachable objects on the shipped data). Then what was loaded is frozen (never scanned again,
    and shared with gunicorn's forked workers, whose writes would otherwise copy its pages) and the
    collector is turned on again."""
    was_enabled = gc.isenabled() or __name__ == "__main__"
    gc.disable()
    try:
        app = create_app()
        template_code.install(app.config.get("TEMPLATE_CODE_DIR") or os.path.join(app.instance_path, "template-code"))
        how = warm(app)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return app, how


def main() -> None:
    app, how = start_up()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    server = os.environ.get("SERVER") or default_server()
    if server not in ("gunicorn", "waitress"):
        raise SystemExit(f"SERVER must be gunicorn or waitress, got '{server}'")
    threads = int(os.environ.get("THREADS", default_threads(server)))
    ready, cpu = time.perf_counter() - STARTED, time.process_time()
    if server == "gunicorn":
        workers = int(os.environ.get("WORKERS", default_workers()))
        print(f"Monotown Scenario Atlas on http://{host}:{port} (gunicorn, {workers} workers x {threads} threads"
              f"{', behind nginx' if nginx() else ''}; "
              f"ready in {ready:.2f} s, {cpu:.2f} s of CPU; first page {how})", flush=True)
        app.extensions["store"].engine.dispose()
        _gunicorn(app, host, port, workers, threads)
        return
    from waitress import serve

    warm_rest(app)

    print(f"Monotown Scenario Atlas on http://{host}:{port} (waitress, {threads} threads; "
          f"ready in {ready:.2f} s, {cpu:.2f} s of CPU; first page {how})", flush=True)
    serve(app, host=host, port=port, threads=threads, ident="monotown-atlas", channel_timeout=60,
          connection_limit=200)


if __name__ == "__main__":
    main()
