"""The public path on an imported network: import -> first use -> each change through Pipeline.run.

    python -m benchmarks.import_bench [--edges 2000000] [--limit-mb 2048] [--repeat 3]
        [--no-recompute]

A SYNTHETIC extract (benchmarks/make_synthetic_pbf.py, a jittered grid over Kazakhstan's bounding
box; it stands for no real place) is imported, then the shipped 27 towns and 20 large cities are
derived and scored on it as a planner does: ``scoring.pipeline.Pipeline.run`` with
``network=bench``.
Child processes, so that each peak resident memory (ru_maxrss) is its own:

1. the import (``geo.netimport.import_network`` + ``save_version``): time and peak memory;
2. the first worker: the first use (the version's layers, snapping onto the real geometry, the
   topology and the two town tables, all stored with the version, scoring), then each change on
   the warm pipeline (threshold, city set, FUA minutes, speed, planned road, speed and city set
   together, a switch to the shipped network and back; medians of ``--repeat`` new values each),
   the catchment GeoJSON, and the limit: one scipy multi-source search over the same routing
   graph;
3. a second worker: its first use maps what the first stored (a gunicorn worker's start);
4. the reference: networkx ``multi_source_dijkstra_path_length`` from the selected large cities on a
   ``DiGraph`` of the same routing graph REVERSED (a one-way edge u -> v is the arc v -> u).

Every answer (each town's road km and minutes to its nearest selected city, for every kind of
change) is checked equal to networkx's, and the second worker's to the first's. Exit code 1 when an
answer differs or a peak exceeds ``--limit-mb``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMPORT_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from geo.netimport import import_network, save_version
t = time.perf_counter()
net = import_network({pbf!r})
t_import = time.perf_counter() - t
t = time.perf_counter()
save_version(net, "bench", {out!r}, overwrite=True)
r = net.report
print(json.dumps({{"import_s": round(t_import, 2), "save_s": round(time.perf_counter() - t, 2),
                  "peak_rss_mb": round(
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "road_ways": r["read"]["road_ways"], "segments": r["segments"],
                  "nodes": r["nodes"],
                  "edges": r["edges"], "oneway_edges": int(net.oneway.sum()),
                  "edges_with_maxspeed": int((net.posted_km > 0).sum()),
                  "dropped_components": r["dropped"]["dropped_components"],
                  "dropped_edges": r["dropped"]["dropped_edges"], "railways": r["railways"],
                  "file_mb": round(r["bytes"] / 1e6, 1)}}))
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def app_worker(root: Path, repeat: int, out: Path) -> dict:
    """Import's first use and every kind of change through Pipeline.run; the routing graph to
    ``out``."""
    from scipy.sparse.csgraph import dijkstra

    from benchmarks.recompute import _case
    from geo.params import parse_params
    from scoring.pipeline import Pipeline

    pipe = Pipeline(networks_root=root)
    res, cases = {}, {}

    def run(raw):
        params = parse_params({"network": "bench"} | raw)
        atlas = pipe.run(params)
        return params, atlas["_derivation"]

    t = time.perf_counter()
    p0, d = run({})
    res["first_use_s"] = time.perf_counter() - t
    res["first_use_peak_mb"] = _peak_mb()
    model = pipe.model("bench")
    cases["full"] = _case(model, p0, d)
    towns, cities = model.layers.towns, model.layers.cities
    pops = sorted(set(float(x) for x in cities["population"].fillna(0)))

    def road(i):
        return planned_road(towns, cities, i)

    changes = (
        ("threshold", lambda i: {"near_km": 50 + 10 * i}),
        ("city_set", lambda i: {"large_city_min_pop": pops[1 + i % (len(pops) - 2)]}),
        ("fua_minutes", lambda i: {"fua_minutes": 30 + 7 * i}),
        ("speed", lambda i: {"speed_republican": 40 + i}),
        ("planned", lambda i: {"planned_roads": [road(i)]}),
    )
    for kind, raw in changes:
        res[kind + "_s"], (p, d) = _median(lambda i, raw=raw: run(raw(i)), repeat)
        cases[kind] = _case(model, p, d)
    res["planned_uses_road"] = sum(t.route_uses_planned for t in d.towns)

    def switch(i):
        pipe.run(parse_params({}))  # the shipped network ...
        t = time.perf_counter()
        run({})  # ... and back
        return time.perf_counter() - t

    res["switch_back_s"] = float(np.median([switch(i) for i in range(repeat)]))

    # a new city set at new speeds: no table of those weights, one bounded search per town
    res["speed_city_set_s"], (p, d) = _median(
        lambda i: run({"speed_republican": 60 + i,
                       "large_city_min_pop": pops[1 + (i + repeat) % (len(pops) - 2)]}), repeat
    )
    cases["speed_city_set"] = _case(model, p, d)
    # none of the changes searched the whole graph (the metrics of every weight set asked)
    res["whole_graph_searches"] = sum(r.searches for r in model._metrics.items.values())

    def catchments(i):
        atlas = pipe.run(parse_params({"network": "bench", "fua_minutes": 75 + 3 * i}))
        t = time.perf_counter()
        fc = pipe.catchments(atlas)
        res["catchment_parts"] = sum(len(f["geometry"]["coordinates"]) for f in fc["features"])
        return time.perf_counter() - t

    res["catchments_s"] = float(np.median([catchments(i) for i in range(repeat)]))

    routing = model.metric(p0, "min")
    sel = np.array(cases["full"]["sources"], dtype=np.int64)
    res["scipy_search_s"], _ = _median(
        lambda i: dijkstra(routing.graph, directed=True, indices=sel, min_only=True), 5
    )
    travel = routing.graph.T.tocsr()  # a search from a town runs on the travel graph
    towns = model.town_nodes(p0)
    res["scipy_town_search_s"], _ = _median(
        lambda i: dijkstra(travel, directed=True, indices=int(towns[i])), 5
    )

    g = model.network(p0)
    res["edges"], res["nodes"] = int(len(g.u)), int(g.n_nodes)
    res["oneway_edges"] = int(np.asarray(g.oneway).sum())
    res["towns"] = [int(g.town_node.get(t, -1)) for t in model.town_ids]
    res["unroutable"] = len(g.unroutable)
    np.savez(
        out,
        u=g.u,
        v=g.v,
        km=g.km,
        cls=g.cls,
        factor=g.factor,
        oneway=g.oneway,
        posted_km=g.posted_km,
        posted_min=g.posted_min,
    )
    res["cache_mb"] = sum(model.cache_bytes().values()) / 2**20
    res["peak_mb"] = _peak_mb()
    res["cases"] = cases
    return res


def planned_road(towns, cities, i: int) -> dict:
    """The i-th town (in turn) to its nearest large city other than itself, as a planned road."""
    from geo.layers import geodesic_km

    k = i % len(towns)
    d = geodesic_km(towns.geometry.x.iloc[k], towns.geometry.y.iloc[k],
                    cities.geometry.x.to_numpy(), cities.geometry.y.to_numpy())
    far = np.flatnonzero(d > 1.0)  # not the town's own city (a town may be a large city)
    nearest = int(far[np.argmin(d[far])])
    return {"from": towns["name_en"].iloc[k], "to": cities["name_en"].iloc[nearest],
            "class": "international"}


def second_worker(root: Path) -> dict:
    """A second process's first use: it maps what the first stored with the version."""
    from geo.params import parse_params
    from scoring.pipeline import Pipeline

    pipe = Pipeline(networks_root=root)
    t = time.perf_counter()
    d = pipe.run(parse_params({"network": "bench"}))["_derivation"]
    return {
        "first_use_s": time.perf_counter() - t,
        "peak_mb": _peak_mb(),
        "road_km": [x.road_km for x in d.towns],
        "travel_min": [x.travel_min for x in d.towns],
    }


def _median(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for i in range(repeat):
        t = time.perf_counter()
        out = fn(i)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def baseline_worker(graph: Path, cases: dict, towns: list) -> dict:
    """Networkx on the reversed DiGraph for every case; search times of the default (full) case."""
    import networkx as nx

    from geo.params import parse_params
    from geo.routing import edge_weights

    with np.load(graph, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    graphs: dict = {}

    def nx_graph(weights: np.ndarray, key) -> nx.DiGraph:
        if key not in graphs:
            graphs.clear()
            g = nx.DiGraph()
            for x, y, w, one in zip(
                a["u"].tolist(), a["v"].tolist(), weights.tolist(), a["oneway"].tolist()
            ):
                for p, q in (
                    ((y, x),) if one else ((y, x), (x, y))
                ):  # travel x -> y is the arc y -> x
                    if p != q and (not g.has_edge(p, q) or g[p][q]["w"] > w):
                        g.add_edge(p, q, w=w)
            graphs[key] = g
        return graphs[key]

    out, answers = {}, {name: {} for name in cases}
    for metric, field, col in (("km", "road_km", 2), ("min", "travel_min", 3)):  # few graph builds
        for name, case in cases.items():
            params = parse_params(case["params"] | {"planned_roads": []})
            w = edge_weights(
                a["cls"], a["km"], params, a["factor"], (a["posted_km"], a["posted_min"])
            )
            res = answers[name]
            t = time.perf_counter()
            g = nx_graph(
                w[metric], (metric, params.detours, params.speeds if metric == "min" else None)
            )
            t_build = time.perf_counter() - t
            added = []
            for row in case["planned"]:  # two-way
                x, y, wt = int(row[0]), int(row[1]), float(row[col])
                for p, q in ((x, y), (y, x)):
                    old = g[p][q]["w"] if g.has_edge(p, q) else None
                    if old is None or wt < old:
                        g.add_edge(p, q, w=wt)
                        added.append((p, q, old))
            t = time.perf_counter()
            dist = nx.multi_source_dijkstra_path_length(g, case["sources"], weight="w")
            t_search = time.perf_counter() - t
            for p, q, old in reversed(added):
                if old is None:
                    g.remove_edge(p, q)
                else:
                    g[p][q]["w"] = old
            res[field] = [dist.get(x) if x >= 0 else None for x in towns]
            if name == "full":
                out[f"nx_build_{metric}_s"], out[f"nx_search_{metric}_s"] = t_build, t_search
    graphs.clear()
    out["answers"] = answers
    out["peak_mb"] = _peak_mb()
    return out


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.import_bench", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


ROWS = (  # the table of docs/performance.md: (label, how to show a record)
    (
        "import (read, contract, geometry, save)",
        lambda r: (
            f"{r['import']['import_s'] + r['import']['save_s']:.1f} s, peak "
            f"{r['import']['peak_rss_mb']:,.0f} MB"
        ),
    ),
    (
        "first use, first worker (layers, snapping, topology, town tables, all stored; scoring)",
        lambda r: f"{r['app']['first_use_s']:.2f} s, peak {r['app']['first_use_peak_mb']:,.0f} MB",
    ),
    (
        "first use, next worker (maps the stored arrays, reads the tables)",
        lambda r: f"{r['second']['first_use_s']:.2f} s, peak {r['second']['peak_mb']:,.0f} MB",
    ),
    (
        "threshold / FUA minutes",
        lambda r: f"{_ms(r['app']['threshold_s'])} / {_ms(r['app']['fua_minutes_s'])}",
    ),
    (
        "city set (the town tables)",
        lambda r: _ms(r["app"]["city_set_s"]),
    ),
    (
        "speed / planned road / speed and city set (one bounded search per town)",
        lambda r: (f"{_ms(r['app']['speed_s'])} / {_ms(r['app']['planned_s'])} / "
                   f"{_ms(r['app']['speed_city_set_s'])}"),
    ),
    ("switch to the shipped network and back", lambda r: _ms(r["app"]["switch_back_s"])),
    (
        "catchment GeoJSON (only when its layer is shown)",
        lambda r: f"{_ms(r['app']['catchments_s'])} ({r['app']['catchment_parts']:,} pieces)",
    ),
    (
        "the limit: one scipy multi-source search / one from a town (medians of 5)",
        lambda r: f"{_ms(r['app']['scipy_search_s'])} / {_ms(r['app']['scipy_town_search_s'])}",
    ),
    (
        "networkx (reversed DiGraph), 2 metrics: search (+ graph build)",
        lambda r: (
            f"{r['baseline']['nx_search_km_s'] + r['baseline']['nx_search_min_s']:.2f} s "
            f"(+ {r['baseline']['nx_build_km_s'] + r['baseline']['nx_build_min_s']:.1f} s), "
            f"peak {r['baseline']['peak_mb']:,.0f} MB"
        ) if r["baseline"] else "not run (--no-baseline)",
    ),
    (
        "peak memory of the first worker, caches; whole-graph searches in all the changes",
        lambda r: (f"{r['app']['peak_mb']:,.0f} MB, {r['app']['cache_mb']:.0f} MB; "
                   f"{r['app']['whole_graph_searches']}"),
    ),
    (
        "same answers (networkx; next worker = first)",
        lambda r: (f"{'yes' if all(r['checks'].values()) else 'NO'} ({len(r['checks'])} kinds)"
                   + ("" if r["baseline"] else "; networkx not run")),
    ),
)


def _ms(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.1f} s"


def table(records: list[dict]) -> list[str]:
    """One markdown table: a row per step, a column per size."""
    head = [
        f"{r['app']['edges']:,} edges ({r['import']['oneway_edges']:,} one-way), "
        f"{r['app']['nodes']:,} nodes"
        for r in records
    ]
    lines = ["| step | " + " | ".join(head) + " |", "|---" * (len(records) + 1) + "|"]
    return lines + [
        f"| {label} | " + " | ".join(show(r) for r in records) + " |" for label, show in ROWS
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--edges", type=int, default=2_000_000)
    ap.add_argument("--limit-mb", type=float, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-recompute", action="store_true", help="time the import only")
    ap.add_argument("--no-baseline", action="store_true",
                    help="leave out networkx (it needs about 1.8 GB per million edges)")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--table", type=Path, nargs="+", help="print the table of these --json files")
    ap.add_argument("--worker", choices=["app", "second", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cases", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.table:
        print("\n".join(table([json.loads(p.read_text()) for p in args.table])))
        return 0
    if args.worker == "app":
        print(json.dumps(app_worker(args.root, args.repeat, args.out)))
        return 0
    if args.worker == "second":
        print(json.dumps(second_worker(args.root)))
        return 0
    if args.worker == "baseline":
        c = json.loads(args.cases.read_text())
        print(json.dumps(baseline_worker(args.out, c["cases"], c["towns"])))
        return 0
    from benchmarks.recompute import answers_equal

    bench = ROOT / "instance" / "bench"
    pbf = bench / f"synthetic_grid_{args.edges}.osm.pbf"
    if not pbf.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "make_synthetic_pbf.py"),
                "--edges",
                str(args.edges),
                "--out",
                str(pbf),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    root = bench / f"versions_{args.edges}"
    code = IMPORT_CHILD.format(root=str(ROOT), pbf=str(pbf), out=str(root))
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    imp = {"extract": f"SYNTHETIC grid, --edges {args.edges}", **json.loads(res.stdout)}
    record, ok = {"import": imp}, imp["peak_rss_mb"] <= args.limit_mb
    if args.no_recompute:
        print(json.dumps(record, indent=1))
        return 0 if ok else 1
    graph = bench / f"routing_{args.edges}.npz"
    app = _child(
        ["--worker", "app", "--root", str(root), "--repeat", str(args.repeat), "--out", str(graph)]
    )
    second = _child(["--worker", "second", "--root", str(root)])
    cases_file = bench / f"cases_{args.edges}.json"
    cases_file.write_text(json.dumps({"cases": app["cases"], "towns": app["towns"]}))
    checks = {}
    base: dict = {}
    if not args.no_baseline:
        base = _child(["--worker", "baseline", "--out", str(graph), "--cases", str(cases_file)])
        checks = answers_equal(app["cases"], base["answers"])
    full = app["cases"]["full"]
    checks["next worker"] = (
        second["road_km"] == full["road_km"] and second["travel_min"] == full["travel_min"]
    )
    ok &= all(checks.values()) and max(app["peak_mb"], second["peak_mb"]) <= args.limit_mb
    record.update(
        app={k: v for k, v in app.items() if k != "cases"},
        second={k: v for k, v in second.items() if k not in ("road_km", "travel_min")},
        baseline={k: v for k, v in base.items() if k != "answers"},
        checks=checks,
    )
    print(f"SYNTHETIC extract {pbf.name} ({imp['file_mb']} MB), stands for no real place")
    print("\n".join(table([record])), flush=True)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
