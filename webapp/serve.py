"""Serve the app with a production WSGI server: ``python -m webapp.serve`` (what ``make run`` starts).

gunicorn (the default on POSIX): the app is loaded once in the master process with its first page
ready, then ``WORKERS`` worker processes are forked, each answering with ``THREADS`` threads. The first
page (default parameters) comes from the start-up snapshot that the previous start saved, when nothing
it depends on has changed (``snapshot_key``); else the default result is computed and the page rendered
(and saved). With the snapshot, the default result is computed after listening (``warm_rest``). Worker processes run Python in parallel, which one process cannot (a new
recompute is some 15-25 ms of CPU under the GIL). What they must agree on is in the store: the data
revision (each process drops its caches when the head moves), the network-import state and the
robustness run (``webapp.store.JobBoard``); a new network version is seen through its folder.

waitress (``SERVER=waitress``, or where gunicorn is not installed): one process, ``THREADS`` threads.

Environment: HOST (default 127.0.0.1), PORT (default 5000), SERVER (gunicorn | waitress),
WORKERS (default: the cores, 2 to 4), THREADS (gunicorn: 4 per worker; waitress: 4 per core).
"""
from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import threading
import time
from pathlib import Path

STARTED = time.perf_counter()
if __name__ == "__main__":  # ``python -m webapp.serve``: see start_up (an import by a test changes nothing)
    gc.disable()

from . import create_app, shared, template_code  # noqa: E402  (after gc.disable: this imports Flask and, in create_app, the rest)

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
    """Make the first page ready before listening: from the start-up snapshot when it is valid (the
    default result is then computed after listening: ``warm_rest``), else by computing the default
    result and rendering the page (kept as bytes, and saved as the snapshot for the next start).
    Background matrix builds are waited for: nothing may hold a lock when gunicorn forks its workers.
    Returns how: "snapshot" or "rendered"."""
    svc = app.extensions["atlas"]
    svc.fingerprint = shared.fingerprint(app)  # before rendering: a change meanwhile makes what is saved stale
    if svc.shared is not None:
        svc.shared.sweep(svc.fingerprint)  # before the workers are forked: other fingerprints' answers removed
    keys = {lang: snapshot_key(app, lang, svc.fingerprint) for lang in LANGS_WARMED}
    if all(load_first_page(app, lang, keys[lang]) for lang in LANGS_WARMED):
        return "snapshot"
    with app.app_context():
        app.extensions["atlas"].results()
    client = app.test_client()
    for lang in LANGS_WARMED:
        client.get(f"/?lang={lang}")
        save_first_page(app, lang, keys[lang])
    _join_matrix_builds()
    return "rendered"


def _join_matrix_builds() -> None:
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name == "city-matrix":
            thread.join()


def warm_rest(app) -> threading.Thread:
    """After listening (each gunicorn worker, or the waitress process): the default result, in the
    background. A request meanwhile is answered as ever: one asking for the same result waits for
    this computation (``Atlas._once``), any other computes its own."""
    def run():
        with app.app_context():
            app.extensions["atlas"].results()
        from .mapview import fullscreen_class

        fullscreen_class()  # Folium imported (and its templates compiled) before a page needs it
    thread = threading.Thread(target=run, name="warm-rest", daemon=True)
    thread.start()
    return thread


# -- the start-up snapshot of the first page ------------------------------------------------------------
# The first page (default parameters, LANGS_WARMED) as rendered bytes, saved by the start that rendered
# it and used by the next one only when nothing it may depend on has changed: ``snapshot_key`` hashes
# the code and templates, the data folder (method files included), the installed versions of the
# libraries that render it, the configuration, the store's head revision, latest revision and active
# judgments, and the network versions (names, sizes and modification times of their files).

def snapshot_key(app, lang: str, fingerprint: str | None = None) -> str | None:
    """The hash of everything the first page in ``lang`` may depend on: ``webapp.shared.fingerprint``
    (code, templates, data, library versions, configuration, network versions; computed now unless
    given) and the store's head revision, latest revision and active judgments. None: no snapshot (a
    data note is shown, as after setting aside a corrupt database)."""
    svc, store = app.extensions["atlas"], app.extensions["store"]
    if svc.data_note:
        return None
    h = hashlib.blake2b(digest_size=20)
    for item in (("first page", 2, lang), fingerprint or shared.fingerprint(app),
                 ("store", store.identity(), store.head(), svc.uploaded_name,
                  sorted(repr(j) for j in store.judgments(active_only=True)))):
        h.update(repr(item).encode() + b"\0")
    return h.hexdigest()


def _snapshot_path(app, lang: str) -> Path:
    folder = app.config.get("STARTUP_SNAPSHOT_DIR") or os.path.join(app.instance_path, "startup")
    return Path(folder) / f"first-page-{lang}.pickle"


def _page_key(app, lang: str) -> tuple:
    from .views import _page_key

    with app.test_request_context(f"/?lang={lang}"):
        return _page_key()


def save_first_page(app, lang: str, snap_key: str | None = None) -> bool:
    """Save the rendered first page in ``lang`` with its key (atomically; False if it cannot be written).
    ``snap_key``: ``snapshot_key`` as computed before the page was rendered (else now)."""
    svc = app.extensions["atlas"]
    key = _page_key(app, lang)
    with svc._lock:
        page = svc._rendered.get((svc.generation, "", *key))  # rendered at the root (script root "")
    snap_key = snapshot_key(app, lang) if snap_key is None else snap_key
    if page is None or snap_key is None:
        return False
    path = _snapshot_path(app, lang)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps({"key": snap_key, "page_key": key, "page": page}))
        os.replace(tmp, path)
        return True
    except OSError:
        return False


def load_first_page(app, lang: str, snap_key: str | None = None) -> bool:
    """Put the saved first page in ``lang`` in the cache if its key is today's (True), else nothing.
    ``snap_key``: today's ``snapshot_key`` if already computed."""
    path = _snapshot_path(app, lang)
    try:
        saved = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return False
    today = snapshot_key(app, lang) if snap_key is None else snap_key
    if not isinstance(saved, dict) or saved.get("key") is None or saved.get("key") != today:
        return False
    key = _page_key(app, lang)
    if saved.get("page_key") != key:
        return False
    app.extensions["atlas"].preload(key, saved["page"])
    return True


def _gunicorn(app, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    def post_fork(_server, _worker):
        app.extensions["store"].engine.dispose(close=False)  # no database connection shared across processes

    def post_worker_init(_worker):
        warm_rest(app)  # once the worker handles its signals (a stop during the warm-up is not lost)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
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
        app.extensions["atlas"].shared = shared.SharedRendered(
            app.config.get("RENDERED_DIR") or os.path.join(app.instance_path, "rendered"))
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
        print(f"Monotown Scenario Atlas on http://{host}:{port} (gunicorn, {workers} workers x {threads} threads; "
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
