"""How sure is each recommendation, in the web app: the robustness draws (scoring.robustness) run once
per data revision in a background thread, with progress; the page polls ``/api/robustness``."""
from __future__ import annotations

import threading

from scoring.robustness import robustness

DRAWS = 1000  # the default of the issue: 1,000 seeded draws for all towns
SEED = 0


class _StoreBound:
    """The pipeline with the store's current values (what the map shows), for the draw model."""

    def __init__(self, pipeline, snapshot):
        self._pipeline, self._snap = pipeline, snapshot

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def run(self, params=None, **kw):
        s = self._snap
        return self._pipeline.run(params, statistics=s.statistics, curated=s.curated, experts=s.experts, **kw)


class Runner:
    """One robustness run per data revision (default parameters), computed in the background."""

    def __init__(self, atlas, *, draws: int = DRAWS, seed: int = SEED):
        self.atlas, self.draws, self.seed = atlas, draws, seed
        self._lock = threading.Lock()
        self._state = {"state": "idle", "progress": 0.0, "revision": None}
        self._result: dict | None = None

    def status(self, *, start: bool = True) -> dict:
        """The run's state (idle, running, done, error) with its progress; the result when done.
        Starts a run when none is done for the current data revision (and ``start``)."""
        snap = self.atlas.snapshot()
        with self._lock:
            fresh = self._result is not None and self._state["revision"] == snap.head
            if not fresh and start and self._state["state"] != "running":
                self._state = {"state": "running", "progress": 0.0, "revision": snap.head}
                threading.Thread(target=self._run, args=(snap,), daemon=True).start()
            out = dict(self._state)
            if fresh:
                out["result"] = self._result
        return out

    def _run(self, snap) -> None:
        def progress(done, total):
            with self._lock:
                self._state["progress"] = round(done / total, 3)
        try:
            result = robustness(_StoreBound(self.atlas.pipeline, snap), draws=self.draws, seed=self.seed,
                                progress=progress)
        except Exception as exc:  # noqa: BLE001 - reported to the page, never a 500
            with self._lock:
                self._state = {"state": "error", "progress": 0.0, "revision": snap.head, "message": str(exc)[:300]}
            return
        with self._lock:
            self._result = {"draws": result["draws"], "seed": result["seed"], "conventions": result["conventions"],
                            "choices": result["choices"],
                            "towns": {t["id"]: t for t in result["towns"]}}
            self._state = {"state": "done", "progress": 1.0, "revision": snap.head}


def get_runner(app) -> Runner:
    runner = app.extensions.get("robustness")
    if runner is None:
        runner = app.extensions["robustness"] = Runner(app.extensions["atlas"])
    return runner
