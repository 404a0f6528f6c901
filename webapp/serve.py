"""Serve the app with a production WSGI server (waitress): ``python -m webapp.serve``.

One process, so there is one atlas service with one cache and one data generation (an upload seen
by one thread is seen by all); ``threads`` threads (default: 4 per core, at least 4) answer
requests. Cached answers are bytes (webapp.http), so a thread holds the GIL only briefly; a new
recompute on the shipped network takes some 15-30 ms of CPU.

Environment: HOST (default 127.0.0.1), PORT (default 5000), THREADS (default 4 x cores).
"""
from __future__ import annotations

import os
import time

from waitress import serve

from . import create_app


def default_threads() -> int:
    """4 threads per core (I/O and cached bytes dominate), at least 4."""
    return max(4, 4 * (os.cpu_count() or 1))


def warm(app) -> None:
    """Compute the default result once before listening, so the first page needs no search."""
    with app.app_context():
        app.extensions["atlas"].results()


def main() -> None:
    started = time.perf_counter()
    app = create_app()
    warm(app)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    threads = int(os.environ.get("THREADS", default_threads()))
    print(f"Monotown Scenario Atlas on http://{host}:{port} (waitress, {threads} threads; "
          f"ready in {time.perf_counter() - started:.2f} s)", flush=True)
    serve(app, host=host, port=port, threads=threads, ident="monotown-atlas", channel_timeout=60,
          connection_limit=200)


if __name__ == "__main__":
    main()
