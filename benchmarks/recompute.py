"""What the planner waits for, end to end, against the usual tools (SYNTHETIC graphs and the shipped
network).

    python -m benchmarks.recompute [--sizes 50000 500000 2000000] [--repeat 5] [--no-shipped]

For each SYNTHETIC graph (benchmarks/synthetic.py, fixed seed) two child processes run, so that
memory is measured per side:

- the app: ``SpatialModel.from_network`` + ``derive`` + scoring (``build_atlas``), i.e. what
  ``Pipeline.run`` does, for each kind of change: a full recompute on a cold model (network
  topology, searches, catchments, scoring), a threshold (``near_km``), a city-set
  (``large_city_min_pop``) and an FUA-minutes change, a speed change and a planned road, each on
  a warm model; medians of ``--repeat`` runs with distinct values;
- the baseline: networkx ``multi_source_dijkstra_path_length`` from the selected large cities,
  per metric (road km, minutes), on a graph built once per weight set; and pandana
  (``Network.shortest_path_lengths``) when it is installed.

Every app answer (each town's road km and minutes to the nearest selected city) is checked against
the baseline for the same parameters. Peak memory is the child's maximum resident set size.
The shipped network is timed through ``scoring.pipeline.Pipeline.run``, including a statistics
change. Ratios are of medians measured in the same run on this machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import synthetic

TOL_ABS, TOL_REL = 2e-3, 1e-6  # the app reports km and minutes rounded to 3 decimals
PANDANA_MAX_EDGES = 60_000  # its contraction-hierarchy build takes about a minute at 50k edges here


def _median_time(fn, values) -> tuple[float, object]:
    times, out = [], None
    for x in values:
        t = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the app's side --------------------------------------------------------------------------------
def _case(model, params, derivation) -> dict:
    """What the baseline needs to reproduce one answer, and the answer."""
    net = model.network(params)
    sel_nodes = [net.city_node[c] for c in derivation.selected_cities]
    planned = [[int(a), int(b), p.km, p.minutes] for a, b, p in model.planned_edges(params, net)]
    return {
        "params": params.as_dict(),
        "sources": sel_nodes,
        "planned": planned,
        "road_km": [t.road_km for t in derivation.towns],
        "travel_min": [t.travel_min for t in derivation.towns],
    }


def app_worker(graph: Path, repeat: int) -> dict:
    """Time every kind of change through the app's path on one SYNTHETIC graph."""
    from geo.params import parse_params
    from scoring import load_method
    from scoring.atlas import build_atlas

    a = synthetic.load(graph)
    method = load_method()

    def run(model, raw):
        params = parse_params(raw)
        d = model.derive(params)
        build_atlas(d, method, statistics={}, curated={})
        return model, params, d

    out, cases, _ = time_changes(
        lambda: synthetic.model(a), run, sorted(a["population"]), lambda i: _road(a, i), repeat
    )
    out["edges"], out["nodes"] = int(len(a["u"])), int(len(a["lon"]))
    out["cases"] = cases
    return out


def time_changes(new_model, run, pops, road, repeat: int) -> tuple[dict, dict, object]:
    """Every kind of change through ``run(model, raw_params)``: a full recompute on a cold model
    (``new_model()``; its loading is not timed), then threshold, city set, FUA minutes, the
    catchment GeoJSON, a speed change and a planned road (``road(i)``) on the warm one.

    Returns the times, per kind the case the baseline must reproduce, and the warm model (shared
    with the import benchmark).
    """
    out, cases, times, model, d = {}, {}, [], None, None
    for _ in range(repeat):
        model = d = (
            None  # the last derivation keeps its model alive (lazy catchments): one model at a time
        )
        model = new_model()
        t = time.perf_counter()
        model, p, d = run(model, {})
        times.append(time.perf_counter() - t)
    out["full_s"] = statistics.median(times)
    cases["full"] = _case(model, p, d)
    t = time.perf_counter()
    model.build_town_tables(p)  # what the app builds at an imported version's first use
    out["town_tables_s"] = time.perf_counter() - t
    changes = (
        ("threshold", lambda i: {"near_km": 50 + 10 * i}),
        ("city_set", lambda i: {"large_city_min_pop": int(pops[1 + i % 15])}),
        ("fua_minutes", lambda i: {"fua_minutes": 30 + 7 * i}),
    )
    for kind, raw in changes:
        out[kind + "_s"], (_, p, d) = _median_time(
            lambda i, raw=raw: run(model, raw(i)), range(repeat)
        )
        cases[kind] = _case(model, p, d)

    def catchments(i):  # the GeoJSON a map draws, built on first use (after derive + score)
        _, _, d = run(model, {"fua_minutes": 75 + 3 * i})
        t = time.perf_counter()
        out["catchment_parts"] = sum(
            len(f["geometry"]["coordinates"]) for f in d.catchments["features"]
        )
        return time.perf_counter() - t

    out["catchments_s"] = statistics.median(catchments(i) for i in range(repeat))
    out["speed_s"], (_, p, d) = _median_time(
        lambda i: run(model, {"speed_republican": 40 + i}), range(repeat)
    )
    cases["speed"] = _case(model, p, d)
    out["planned_s"], (_, p, d) = _median_time(
        lambda i: run(model, {"planned_roads": [road(i)]}), range(repeat)
    )
    cases["planned"] = _case(model, p, d)
    out["planned_uses_road"] = sum(t.route_uses_planned for t in d.towns)
    out["cache_mb"] = sum(model.cache_bytes().values()) / 2**20
    out["peak_mb"] = _peak_mb()
    return out, cases, model


def _road(a: dict, i: int) -> dict:
    """Planned road i: an international road from town i+1 to the large city nearest to it as the
    crow flies."""
    from geo.layers import geodesic_km

    k = i % synthetic.N_TOWNS
    t = a["towns"][k]
    d = geodesic_km(a["lon"][t], a["lat"][t], a["lon"][a["cities"]], a["lat"][a["cities"]])
    return {
        "from": synthetic.town_ids()[k],
        "to": synthetic.city_ids()[int(np.argmin(d))],
        "class": "international",
    }


# -- the baseline's side ---------------------------------------------------------------------------
def baseline_worker(graph: Path, cases: dict) -> dict:
    """Networkx (and pandana if installed) for every case; times of the default (full) case."""
    import networkx as nx

    from geo.params import parse_params
    from geo.routing import edge_weights

    a = synthetic.load(graph)
    cls = synthetic.CLASSES[a["cls"]]
    towns = [int(x) for x in a["towns"]]
    graphs: dict = {}

    def nx_graph(weights: np.ndarray, key) -> nx.Graph:
        if key not in graphs:
            graphs.clear()  # one weight set at a time: networkx graphs are large
            g = nx.Graph()
            for x, y, w in zip(a["u"].tolist(), a["v"].tolist(), weights.tolist()):
                if x != y and (not g.has_edge(x, y) or g[x][y]["w"] > w):
                    g.add_edge(x, y, w=w)
            graphs[key] = g
        return graphs[key]

    out, answers = {}, {}
    for name, case in cases.items():
        params = parse_params(case["params"] | {"planned_roads": []})
        w = edge_weights(cls, a["km"], params)
        res = {}
        for metric, field, col in (("km", "road_km", 2), ("min", "travel_min", 3)):
            t = time.perf_counter()
            g = nx_graph(
                w[metric], (metric, params.detours, params.speeds if metric == "min" else None)
            )
            t_build = time.perf_counter() - t
            added = _add_planned(g, case["planned"], col)
            t = time.perf_counter()
            dist = nx.multi_source_dijkstra_path_length(g, case["sources"], weight="w")
            t_search = time.perf_counter() - t
            _remove_planned(g, added)
            res[field] = [dist.get(x) for x in towns]
            if name == "full":
                out[f"nx_build_{metric}_s"], out[f"nx_search_{metric}_s"] = t_build, t_search
        answers[name] = res
    graphs.clear()
    out["pandana"] = _pandana(a, cases["full"], cls) if len(a["u"]) <= PANDANA_MAX_EDGES else None
    out["answers"] = answers
    out["peak_mb"] = _peak_mb()
    return out


def _add_planned(g, planned: list, col: int) -> list:
    added = []
    for row in planned:
        x, y, w = int(row[0]), int(row[1]), float(row[col])
        old = g[x][y]["w"] if g.has_edge(x, y) else None
        if old is None or w < old:
            g.add_edge(x, y, w=w)
            added.append((x, y, old))
    return added


def _remove_planned(g, added: list) -> None:
    for x, y, old in reversed(added):
        if old is None:
            g.remove_edge(x, y)
        else:
            g[x][y]["w"] = old


def _pandana(a: dict, case: dict, cls) -> dict | None:
    """Pandana's contraction-hierarchy queries, town x city, for the full case (None if not
    installed)."""
    try:
        import pandana
        import pandas as pd
    except ImportError:
        return None
    from geo.params import parse_params
    from geo.routing import edge_weights

    w = edge_weights(cls, a["km"], parse_params(case["params"]))
    t = time.perf_counter()
    nodes = pd.DataFrame({"x": a["lon"], "y": a["lat"]})
    edges = pd.DataFrame({"from": a["u"], "to": a["v"], "km": w["km"], "min": w["min"]})
    net = pandana.Network(
        nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["km", "min"]], twoway=True
    )
    t_build = time.perf_counter() - t
    towns, srcs = (
        np.repeat(a["towns"], len(case["sources"])),
        np.tile(case["sources"], len(a["towns"])),
    )
    res, t0 = {}, time.perf_counter()
    for metric, field in (("km", "road_km"), ("min", "travel_min")):
        d = np.asarray(net.shortest_path_lengths(towns, srcs, imp_name=metric)).reshape(
            len(a["towns"]), -1
        )
        res[field] = d.min(axis=1).tolist()
    return {"build_s": t_build, "query_s": time.perf_counter() - t0, "answers": res}


# -- comparison and report -------------------------------------------------------------------------
def same(app: list, ref: list) -> bool:
    """Every town's value equal within rounding (both missing counts as equal)."""
    for x, y in zip(app, ref):
        if (x is None) != (y is None or not np.isfinite(y)):
            return False
        if x is not None and abs(x - y) > TOL_ABS + TOL_REL * abs(y):
            return False
    return True


def answers_equal(cases: dict, answers: dict) -> dict[str, bool]:
    """Per case: its towns' road km and minutes equal the reference's (``same``)."""
    return {
        name: same(c["road_km"], answers[name]["road_km"])
        and same(c["travel_min"], answers[name]["travel_min"])
        for name, c in cases.items()
    }


def _child(args: list[str], payload: Path | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.recompute", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_size(size: int, repeat: int, tmp: Path) -> dict:
    """App and baseline children on one SYNTHETIC graph; the equality checks."""
    graph = synthetic.save(synthetic.generate(size), tmp / f"graph_{size}.npz")
    app = _child(["--worker", "app", "--graph", str(graph), "--repeat", str(repeat)])
    cases_file = tmp / f"cases_{size}.json"
    cases_file.write_text(json.dumps(app["cases"]))
    base = _child(["--worker", "baseline", "--graph", str(graph), "--cases", str(cases_file)])
    checks = answers_equal(app["cases"], base["answers"])
    pandana = base.get("pandana")
    if pandana:
        checks["pandana"] = same(
            app["cases"]["full"]["road_km"], pandana["answers"]["road_km"]
        ) and same(app["cases"]["full"]["travel_min"], pandana["answers"]["travel_min"])
        pandana["max_diff"] = {
            k: max(
                abs(x - y)
                for x, y in zip(app["cases"]["full"][k], pandana["answers"][k])
                if x is not None
            )
            for k in ("road_km", "travel_min")
        }
    return {"app": app, "base": base, "checks": checks}


def report(r: dict) -> list[str]:
    app, base, checks = r["app"], r["base"], r["checks"]
    nx_search = base["nx_search_km_s"] + base["nx_search_min_s"]
    nx_build = base["nx_build_km_s"] + base["nx_build_min_s"]
    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    full = app["full_s"]
    lines = [
        f"SYNTHETIC {app['edges']:,} edges, {app['nodes']:,} nodes (seed {synthetic.SEED})",
        (
            f"  networkx multi-source Dijkstra, 2 metrics: search {nx_search:.2f} s (+ graph build"
            f" {nx_build:.2f} s), peak {base['peak_mb']:.0f} MB"
        ),
    ]
    if base.get("pandana"):
        p = base["pandana"]
        lines.append(
            f"  pandana: network build {p['build_s']:.2f} s, town x city queries {p['query_s']:.2f}"
            f" s; largest difference from the app {p['max_diff']['road_km']:.3f} km,"
            f" {p['max_diff']['travel_min']:.3f} min"
        )
    lines += [
        (
            f"  full recompute (cold: topology, one multi-source search, town searches, scoring)"
            f" {full:.3f} s"
            f" = {nx_search / full:.1f}x faster than networkx search alone (target 3x)"
        ),
        f"  threshold change     {ms(app['threshold_s']):>10}  (target < 100 ms)",
        (
            f"  city-set change      {ms(app['city_set_s']):>10}  (target < 100 ms; from the town"
            f" tables, built once, {app['town_tables_s']:.2f} s)"
        ),
        f"  FUA-minutes change   {ms(app['fua_minutes_s']):>10}  (target < 100 ms)",
        (
            f"  + catchment GeoJSON  {ms(app['catchments_s']):>10}  (built when a map draws it;"
            f" {app['catchment_parts']:,} road pieces)"
        ),
        (
            f"  speed change         {ms(app['speed_s']):>10}  = {full / app['speed_s']:.1f}x"
            " faster than a full rebuild (target 3x)"
        ),
        (
            f"  planned road         {ms(app['planned_s']):>10}  = {full / app['planned_s']:.1f}x"
            f" faster than a full rebuild (target 10x; {app['planned_uses_road']} town routes"
            " use it)"
        ),
        (
            f"  app peak memory {app['peak_mb']:.0f} MB (target < 2048 MB), caches"
            f" {app['cache_mb']:.0f} MB"
        ),
        "  same answers as networkx: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()),
    ]
    return lines


def shipped(repeat: int = 20) -> list[str]:
    """Pipeline.run on the shipped network for each kind of change, and networkx on the same
    graph."""
    import networkx as nx

    from geo.params import parse_params
    from geo.routing import edge_weights
    from scoring.pipeline import Pipeline

    t = time.perf_counter()
    pipeline = Pipeline()
    atlas = pipeline.run()
    cold = time.perf_counter() - t
    stats = pipeline.sources.statistics
    road = {"from": "Karazhal", "to": "Zhezkazgan", "class": "republican"}
    cases = {
        "threshold change": lambda i: pipeline.run(parse_params({"near_km": 50 + i})),
        "city-set change": lambda i: pipeline.run(
            parse_params({"large_city_min_pop": 100_000 * (1 + i % 8)})
        ),
        "FUA-minutes change": lambda i: pipeline.run(parse_params({"fua_minutes": 30 + i})),
        "speed change": lambda i: pipeline.run(parse_params({"speed_republican": 40 + i})),
        "planned road": lambda i: pipeline.run(
            parse_params({"near_km": 100 + i, "planned_roads": [road]})
        ),
        "statistics change": lambda i: pipeline.run(
            statistics={k: dict(v) for k, v in stats.items()}
        ),
    }
    lines = [
        f"shipped network (real data, 27 towns): Pipeline.run, median of {repeat}; cold start"
        f" {cold * 1000:.0f} ms"
    ]
    for name, fn in cases.items():
        lines.append(f"  {name:22} {_median_time(fn, range(repeat))[0] * 1000:7.1f} ms")
    params = parse_params({})
    net = pipeline.spatial.network(params)
    w = edge_weights(net.cls, net.km, params, net.factor)  # published section lengths, as the app
    srcs = [net.city_node[c] for c in atlas["selected_cities"]]
    ok = True
    for metric, key in (("km", "road_km"), ("min", "travel_min")):
        g = nx.Graph()
        for x, y, wt in zip(net.u.tolist(), net.v.tolist(), w[metric].tolist()):
            if x != y and (not g.has_edge(x, y) or g[x][y]["w"] > wt):
                g.add_edge(x, y, w=wt)
        t = time.perf_counter()
        d = nx.multi_source_dijkstra_path_length(g, srcs, weight="w")
        lines.append(
            f"  networkx multi-source search ({metric}) {(time.perf_counter() - t) * 1000:7.1f} ms"
        )
        ok &= same(
            [tw["agglomeration"][key] for tw in atlas["towns"]],
            [d.get(net.town_node.get(tw["id"]), np.inf) for tw in atlas["towns"]],
        )
    lines.append(f"  same answers as networkx: {'yes' if ok else 'NO'}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000, 2_000_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-shipped", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--worker", choices=["app", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--graph", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cases", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker == "app":
        print(json.dumps(app_worker(args.graph, args.repeat)))
        return 0
    if args.worker == "baseline":
        print(json.dumps(baseline_worker(args.graph, json.loads(args.cases.read_text()))))
        return 0
    print(
        "End-to-end recompute: the app's path vs networkx, SYNTHETIC graphs (stand for no real"
        " place)"
    )
    ok, raw = True, []
    with tempfile.TemporaryDirectory(prefix="monotown-bench-") as tmp:
        for size in args.sizes:
            r = run_size(size, args.repeat, Path(tmp))
            raw.append(r)
            ok &= all(
                v for k, v in r["checks"].items() if k != "pandana"
            )  # pandana rounds edge weights
            print("\n".join(report(r)), flush=True)
    if not args.no_shipped:
        print("\n".join(shipped()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
