"""Robustness draws: the app's vectorised draws against the pipeline run once per draw (the
baseline).

python -m benchmarks.robustness [--draws 60]

The baseline is what a user of the package could do without the draw model: apply each draw's
choices (spatial parameters, shifted bands, rule margin, measurement errors) and run the real
pipeline (spatial derivation, then scoring) once per draw. Both paths must give the same outcome for
every town and draw (checked). The ratio is of the two times in the same run; the full default run
(1,000 draws with the Sobol design) is timed too.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from geo.params import default_params
from scoring.atlas import build_atlas
from scoring.draws import design, load_choices
from scoring.method import Band
from scoring.pipeline import Pipeline
from scoring.robustness import DrawModel, default_mismatches, robustness


def pipeline_for_row(pipeline, model, row):
    """Run the real pipeline (derivation, build_atlas) with the choices of one draw applied."""
    method, values = pipeline.method, dict(zip([c.name for c in model.choices], row.tolist()))
    spatial = {c.target: values[c.name] for c in model.choices if c.kind == "spatial param"}
    params = default_params().with_changes(**spatial)
    indicators = dict(method.indicators)
    for c in model.choices:
        if c.kind == "band shift":
            ind = indicators[c.target]
            s = values[c.name]
            bands = tuple(
                Band(b.level, b.upper * (1 + s) if c.scale == "relative" else b.upper + s)
                for b in ind.bands
            )
            indicators[c.target] = dataclasses.replace(ind, bands=bands)
    margin = next(values[c.name] for c in model.choices if c.kind == "rule margin")
    shifted = dataclasses.replace(
        method, indicators=indicators, settings=method.settings | {"recommend_margin": margin}
    )
    stats = {}
    for town, inputs in pipeline.sources.statistics.items():
        stats[town] = {}
        for name, rec in inputs.items():
            err = next(
                (
                    values[c.name]
                    for c in model.choices
                    if c.kind == "measurement error" and c.target == name
                ),
                0.0,
            )
            spec = method.inputs[name]
            if rec["value"].strip():
                x = float(rec["value"]) * (1 + err)
                x = x if spec.min is None else max(x, spec.min)
                x = x if spec.max is None else min(x, spec.max)
                rec = rec | {"value": repr(float(x))}
            stats[town][name] = rec
    s = pipeline.sources
    atlas = build_atlas(
        pipeline.spatial.derive(params), shifted, statistics=stats, curated=s.curated
    )
    return atlas, shifted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.robustness", description=__doc__)
    ap.add_argument("--draws", type=int, default=60, help="draws compared with the baseline")
    args = ap.parse_args(argv)
    pipeline = Pipeline()
    model = DrawModel(pipeline, load_choices(pipeline.method))
    rows = design(model.choices, args.draws, 7).a
    t0 = time.perf_counter()
    out = model.evaluate(rows)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    runs = [pipeline_for_row(pipeline, model, rows[k]) for k in range(len(rows))]
    slow = time.perf_counter() - t0
    bad = [
        k for k, (atlas, method) in enumerate(runs) if default_mismatches(out, atlas, method, row=k)
    ]
    if bad:
        print(
            f"MISMATCH: draws {bad[:5]} differ between the draw model and the pipeline",
            file=sys.stderr,
        )
        return 1
    print(
        f"{args.draws} draws, all 27 towns: pipeline per draw {slow * 1000:.0f} ms, draw model"
        f" {fast * 1000:.0f} ms ({slow / fast:.0f}x); every outcome equal"
    )
    t0 = time.perf_counter()
    full = robustness(pipeline, draws=1000, seed=0)
    print(
        f"default run: 1,000 draws ({full['evaluations']} evaluations with the Sobol design) in "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
