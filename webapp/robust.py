"""How sure is each recommendation, in the web app: the robustness draws (scoring.robustness) run
once per data revision in a background thread of one server process, with its state, progress and
result in the store's jobs table (so every process answers alike); the page polls
``/api/robustness``."""

from __future__ import annotations

import threading
import time

from webapp.store.db import JobBoard

DRAWS = 1000  # the default of the issue: 1,000 seeded draws for all towns
SEED = 0
JOB = "robustness"
PROGRESS_EVERY_S = 0.5  # progress is written to the store at most this often
RETRY_S = 30.0  # a failed run is reported this long, then the next request starts it again
MAX_RUN_S = 1800.0  # a run still going this long after its start is reported failed


class _StoreBound:
    """The pipeline with the store's current values (what the map shows), for the draw model."""

    def __init__(self, pipeline, snapshot):
        self._pipeline, self._snap = pipeline, snapshot

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def run(self, params=None, **kw):
        s = self._snap
        return self._pipeline.run(
            params, statistics=s.statistics, curated=s.curated, experts=s.experts, **kw
        )


class Runner:
    """One robustness run per data revision (default parameters), computed in the background.

    The run's state and result are kept in the store (``webapp.store.db.JobBoard``), so every worker
    process sees the same run: the first to ask for a revision's run claims it, the others report
    its progress; a run that failed (or still runs ``MAX_RUN_S`` after its start: its process ended)
    is reported as an error for ``RETRY_S`` seconds, then the next request starts it again.
    """

    def __init__(
        self, atlas, *, draws: int = DRAWS, seed: int = SEED, board: JobBoard | None = None
    ):
        self.atlas, self.draws, self.seed = atlas, draws, seed
        self.board = board or JobBoard(atlas.store, JOB, failed="error", max_s=MAX_RUN_S)
        self._last_progress = 0.0

    def status(self, *, start: bool = True) -> dict:
        """The run's state (idle, running, done, error) with its progress; the result when done.

        Starts a run when none is done for the current data revision (and ``start``).
        """
        snap = self.atlas.snapshot()
        state, result = self.board.status()
        fresh = (
            state.get("state") == "done"
            and state.get("revision") == snap.head
            and result is not None
        )
        if fresh:
            return dict(state) | {"result": result}
        failed_now = (
            state.get("state") == "error"
            and state.get("revision") == snap.head
            and time.time() - float(state.get("ended") or 0) < RETRY_S
        )
        if start and state.get("state") != "running" and not failed_now:
            running = {"state": "running", "progress": 0.0, "revision": snap.head}
            if self.board.claim(running):
                threading.Thread(
                    target=self._run, args=(snap,), daemon=True, name="robustness"
                ).start()
                return running
            state, _ = self.board.status()  # another process claimed it just now
        return {"progress": 0.0, "revision": None} | {
            k: v for k, v in state.items() if k != "result"
        }

    def _run(self, snap) -> None:
        def progress(done, total):
            now = time.monotonic()
            if done == total or now - self._last_progress >= PROGRESS_EVERY_S:
                self._last_progress = now
                self.board.update(
                    {"state": "running", "progress": round(done / total, 3), "revision": snap.head}
                )

        from scoring.robustness import robustness  # imported when a run starts, not at start-up

        try:
            result = robustness(
                _StoreBound(self.atlas.pipeline, snap),
                draws=self.draws,
                seed=self.seed,
                progress=progress,
            )
            kept = {
                "draws": result["draws"],
                "seed": result["seed"],
                "conventions": result["conventions"],
                "choices": result["choices"],
                "towns": {t["id"]: t for t in result["towns"]},
            }
            self.board.finish({"state": "done", "progress": 1.0, "revision": snap.head}, kept)
        except Exception as exc:  # noqa: BLE001 - reported to the page, never a 500
            self.board.finish(
                {
                    "state": "error",
                    "progress": 0.0,
                    "revision": snap.head,
                    "message": str(exc)[:300],
                    "ended": time.time(),
                }
            )


def get_runner(app) -> Runner:
    runner = app.extensions.get("robustness")
    if runner is None:
        runner = app.extensions["robustness"] = Runner(app.extensions["atlas"])
    return runner
