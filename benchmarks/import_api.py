"""Each planner action on an imported network through the served app: ``POST /api/recompute``.

    python -m benchmarks.import_api --edges 2000000 [--repeat 5]

Reads the version ``python -m benchmarks.import_bench --edges N`` imported and first used
(``instance/bench/versions_N``, a SYNTHETIC extract: it stands for no real place), starts the app
as ``make run`` serves it (``webapp.serve``: gunicorn workers behind nginx) on a free loopback port
with ``NETWORKS_ROOT`` there, lets every worker open the version, then times each kind of change end
to end (request, recompute, JSON, gzip, response; medians of ``--repeat`` new values each):
threshold, city set, FUA minutes, speed, planned road, speed and city set together, a switch from
the shipped network. Every answer's road km and minutes per town are checked equal to
``Pipeline.run`` in this process on the same version. Exit code 1 when one differs or a median is
over ``--target-ms``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path


from benchmarks.import_bench import planned_road
from benchmarks.load import free_port, spawn, stop
from benchmarks.recompute import same

ROOT = Path(__file__).resolve().parent.parent


def post(port: int, params: dict) -> tuple[float, dict]:
    """Seconds for one POST /api/recompute (answer read whole, gzip accepted) and the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps(params)
    t = time.perf_counter()
    conn.request("POST", "/api/recompute?lang=en", body=body,
                 headers={"Content-Type": "application/json", "Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    data = resp.read()
    took = time.perf_counter() - t
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{params}: {resp.status} {data[:300]!r}")
    if resp.getheader("Content-Encoding") == "gzip":
        import gzip

        data = gzip.decompress(data)
    return took, json.loads(data)


def answers(doc: dict) -> tuple[list, list]:
    aggl = [f["properties"]["agglomeration"] for f in doc["features"]]
    return [a["road_km"] for a in aggl], [a["travel_min"] for a in aggl]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--target-ms", type=float, default=300)
    args = ap.parse_args(argv)
    root = ROOT / "instance" / "bench" / f"versions_{args.edges}"
    if not (root / "bench").is_dir():
        print(f"{root} has no version 'bench': run python -m benchmarks.import_bench --edges "
              f"{args.edges} first", file=sys.stderr)
        return 2
    from scoring.pipeline import Pipeline

    pipe = Pipeline(networks_root=root)
    model = pipe.model("bench")
    pops = sorted(set(float(x) for x in model.layers.cities["population"].fillna(0)))
    towns, cities = model.layers.towns, model.layers.cities

    def road(i: int) -> dict:
        return planned_road(towns, cities, i)

    kinds = (
        ("threshold", lambda i: {"near_km": 61 + 7 * i}),
        ("city set", lambda i: {"large_city_min_pop": pops[1 + i % (len(pops) - 2)]}),
        ("FUA minutes", lambda i: {"fua_minutes": 41 + 3 * i}),
        ("speed", lambda i: {"speed_republican": 71 + i}),
        ("planned road", lambda i: {"planned_roads": [road(i)]}),
        ("speed and city set", lambda i: {"speed_oblast": 51 + i,
                                          "large_city_min_pop": pops[-2 - i % (len(pops) - 2)]}),
    )
    port = free_port()
    proc, _ = spawn(port, timeout=120, env_extra={"NETWORKS_ROOT": str(root)})
    results, asked = [], []
    try:
        t = time.perf_counter()
        for _ in range(8):  # every worker opens the version (its first use: stored arrays)
            post(port, {"network": "bench"})
        opened = time.perf_counter() - t
        for name, raw in kinds:
            times = []
            for i in range(args.repeat):
                params = {"network": "bench"} | raw(i)
                took, doc = post(port, params)
                times.append(took)
                asked.append((name, params, answers(doc)))
            results.append((name, statistics.median(times), max(times)))
        times = []
        for i in range(args.repeat):  # the shipped network, then back to the version
            post(port, {"fua_minutes": 90 + i})
            took, doc = post(port, {"network": "bench", "fua_minutes": 90 + i})
            times.append(took)
            asked.append(("switch", {"network": "bench", "fua_minutes": 90 + i}, answers(doc)))
        results.append(("network switch (after first use)", statistics.median(times), max(times)))
    finally:
        stop(proc)
    from geo.params import parse_params

    wrong = []
    for name, params, (km, minutes) in asked:
        d = pipe.run(parse_params(params))["_derivation"]
        if not (same(km, [x.road_km for x in d.towns])
                and same(minutes, [x.travel_min for x in d.towns])):
            wrong.append((name, params))
    print(f"SYNTHETIC version {root.name}: POST /api/recompute through the served app "
          f"(medians of {args.repeat}; the workers opened the version in {opened:.1f} s)")
    print("| change | median | slowest |\n|---|---|---|")
    for name, med, worst in results:
        print(f"| {name} | {med * 1000:.0f} ms | {worst * 1000:.0f} ms |")
    print(f"answers equal to Pipeline.run in this process: {'yes' if not wrong else wrong}")
    ok = not wrong and all(med * 1000 <= args.target_ms for _, med, _ in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
