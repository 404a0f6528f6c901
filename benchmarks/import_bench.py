"""Import, then recompute on the IMPORTED graph, of a SYNTHETIC extract (benchmarks/make_synthetic_pbf.py).

    python -m benchmarks.import_bench [--edges 2000000] [--limit-mb 2048] [--repeat 3] [--no-recompute]

Three child processes, so that each peak resident memory (ru_maxrss) is its own, Python and the
libraries included:

1. the import (``geo.netimport.import_network`` + ``save_version``): time and peak memory;
2. the app on the imported version (``geo.versions.ImportedLayers`` -> ``SpatialModel``, the path of
   ``--network NAME``: towns and cities snapped onto the real geometry, one-way edges, posted
   maxspeed) for the kinds of change of ``benchmarks/recompute.py``: a full recompute on a cold
   model, a threshold, a city-set and an FUA-minutes change, the catchment GeoJSON, a speed change
   and a planned road (medians of ``--repeat``), and the peak memory;
3. the baseline: networkx ``multi_source_dijkstra_path_length`` from the selected large cities on a
   ``DiGraph`` of the same routing graph REVERSED (a one-way edge u -> v is the arc v -> u), so that
   it gives each town's distance TO its nearest city; the lightest of parallel arcs.

Every app answer (each town's road km and minutes to its nearest selected city, for every kind of
change) is checked equal to networkx's. The 27 towns and 20 large cities are SYNTHETIC points (fixed
seed) near the imported roads, as the extract is SYNTHETIC (a jittered grid) and stands for no real
place. Exit code 1 when an answer differs or a peak exceeds ``--limit-mb``.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_CITIES, N_TOWNS, SEED = 20, 27, 14
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
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "road_ways": r["read"]["road_ways"], "segments": r["segments"], "nodes": r["nodes"],
                  "edges": r["edges"], "oneway_edges": int(net.oneway.sum()),
                  "edges_with_maxspeed": int((net.posted_km > 0).sum()),
                  "dropped_components": r["dropped"]["dropped_components"],
                  "dropped_edges": r["dropped"]["dropped_edges"], "railways": r["railways"],
                  "file_mb": round(r["bytes"] / 1e6, 1)}}))
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _points(net, rng: np.random.Generator):
    """SYNTHETIC towns (a road vertex moved up to about 1 km) and large cities (road nodes)."""
    import pandas as pd

    v = rng.choice(len(net.geom_lon), N_TOWNS, replace=False)
    towns = pd.DataFrame({"id": [f"town{i + 1}" for i in range(N_TOWNS)], "name_en": [f"town{i + 1}" for i in range(N_TOWNS)],
                          "lon": net.geom_lon[v] + rng.uniform(-0.01, 0.01, N_TOWNS),
                          "lat": net.geom_lat[v] + rng.uniform(-0.01, 0.01, N_TOWNS)})
    c = rng.choice(len(net.lon), N_CITIES, replace=False)
    cities = pd.DataFrame({"id": [f"city{i + 1}" for i in range(N_CITIES)],
                           "name_en": [f"city{i + 1}" for i in range(N_CITIES)],
                           "status": ["republican"] * 2 + ["oblast centre"] * (N_CITIES - 2),
                           "population": rng.integers(100_000, 2_000_000, N_CITIES),
                           "lon": net.lon[c], "lat": net.lat[c]})
    return towns, cities


def app_worker(root: Path, repeat: int, out: Path) -> dict:
    """Every kind of change through the app's path on the imported version; the routing graph to ``out``."""
    from benchmarks.recompute import time_changes
    from geo.agglomeration import SpatialModel, points_only_layers
    from geo.layers import Layers, geodesic_km
    from geo.netimport import load_version
    from geo.network import build_imported
    from geo.params import parse_params
    from geo.versions import ImportedLayers
    from scoring import load_method
    from scoring.atlas import build_atlas

    t = time.perf_counter()
    net = load_version("bench", root)
    res = {"load_s": time.perf_counter() - t}
    towns, cities = _points(net, np.random.default_rng(SEED))
    base = points_only_layers(towns, cities)
    layers = ImportedLayers(**{f.name: getattr(base, f.name) for f in fields(Layers)}, imported=net)
    method = load_method()
    p0 = parse_params({})
    t = time.perf_counter()
    build_imported(net, layers.towns, layers.cities, snap_km=p0.snap_km, on_network_km=p0.on_network_km)
    res["snap_s"] = time.perf_counter() - t

    def run(model, raw):
        params = parse_params(raw)
        d = model.derive(params)
        build_atlas(d, method, statistics={}, curated={})
        return model, params, d

    def road(i):
        k = i % N_TOWNS
        dd = geodesic_km(towns["lon"][k], towns["lat"][k], cities["lon"].to_numpy(), cities["lat"].to_numpy())
        return {"from": f"town{k + 1}", "to": f"city{int(np.argmin(dd)) + 1}", "class": "international"}
    changes, cases, model = time_changes(lambda: SpatialModel(layers), run,
                                         sorted(cities["population"]), road, repeat)
    res.update(changes)
    g = model.network(p0)
    res["edges"], res["nodes"], res["oneway_edges"] = int(len(g.u)), int(g.n_nodes), int(g.oneway.sum())
    res["towns"] = [g.town_node.get(f"town{i + 1}", -1) for i in range(N_TOWNS)]
    res["unroutable"] = len(g.unroutable)
    np.savez(out, u=g.u, v=g.v, km=g.km, cls=g.cls, factor=g.factor, oneway=g.oneway, posted_km=g.posted_km,
             posted_min=g.posted_min)
    res["cases"] = cases
    return res


def baseline_worker(graph: Path, cases: dict, towns: list) -> dict:
    """networkx on the reversed DiGraph for every case; search times of the default (full) case."""
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
            for x, y, w, one in zip(a["u"].tolist(), a["v"].tolist(), weights.tolist(), a["oneway"].tolist()):
                for p, q in ((y, x),) if one else ((y, x), (x, y)):  # travel x -> y is the arc y -> x
                    if p != q and (not g.has_edge(p, q) or g[p][q]["w"] > w):
                        g.add_edge(p, q, w=w)
            graphs[key] = g
        return graphs[key]

    out, answers = {}, {name: {} for name in cases}
    for metric, field, col in (("km", "road_km", 2), ("min", "travel_min", 3)):  # few graph builds
        for name, case in cases.items():
            params = parse_params(case["params"] | {"planned_roads": []})
            w = edge_weights(a["cls"], a["km"], params, a["factor"], (a["posted_km"], a["posted_min"]))
            res = answers[name]
            t = time.perf_counter()
            g = nx_graph(w[metric], (metric, params.detours, params.speeds if metric == "min" else None))
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


def report(imp: dict, app: dict, base: dict, checks: dict) -> list[str]:
    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    nx_search = base["nx_search_km_s"] + base["nx_search_min_s"]
    full = app["full_s"]
    return [
        f"import: {imp['import_s']:.1f} s (+ save {imp['save_s']:.1f} s), peak {imp['peak_rss_mb']:,.0f} MB; "
        f"{imp['edges']:,} edges ({imp['oneway_edges']:,} one-way, {imp['edges_with_maxspeed']:,} with maxspeed), "
        f"{imp['nodes']:,} nodes from {imp['segments']:,} segments",
        f"routing graph: {app['edges']:,} edges, {app['nodes']:,} nodes ({app['unroutable']} unroutable points); "
        f"load {app['load_s']:.1f} s, snapping onto the geometry {app['snap_s']:.2f} s",
        f"networkx (reversed DiGraph) multi-source Dijkstra, 2 metrics: search {nx_search:.2f} s "
        f"(+ graph build {base['nx_build_km_s'] + base['nx_build_min_s']:.1f} s), peak {base['peak_mb']:,.0f} MB",
        f"full recompute (cold: snapping, topology, two searches, scoring) {full:.3f} s = "
        f"{nx_search / full:.1f}x networkx search alone",
        f"threshold {ms(app['threshold_s'])}, city set {ms(app['city_set_s'])} (town tables "
        f"{app['town_tables_s']:.2f} s), FUA minutes {ms(app['fua_minutes_s'])}, catchments "
        f"{ms(app['catchments_s'])} ({app['catchment_parts']:,} pieces)",
        f"speed change {ms(app['speed_s'])} ({full / app['speed_s']:.1f}x vs full), planned road "
        f"{ms(app['planned_s'])} ({full / app['planned_s']:.1f}x vs full; {app['planned_uses_road']} routes use it)",
        f"app peak memory {app['peak_mb']:,.0f} MB, caches {app['cache_mb']:.0f} MB",
        "same answers as networkx: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items()),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=2_000_000)
    ap.add_argument("--limit-mb", type=float, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-recompute", action="store_true", help="time the import only")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--worker", choices=["app", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cases", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker == "app":
        print(json.dumps(app_worker(args.root, args.repeat, args.out)))
        return 0
    if args.worker == "baseline":
        c = json.loads(args.cases.read_text())
        print(json.dumps(baseline_worker(args.out, c["cases"], c["towns"])))
        return 0
    from benchmarks.recompute import same

    bench = ROOT / "instance" / "bench"
    pbf = bench / f"synthetic_grid_{args.edges}.osm.pbf"
    if not pbf.exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_synthetic_pbf.py"), "--edges",
                        str(args.edges), "--out", str(pbf)], check=True, stdout=subprocess.DEVNULL)
    root = bench / f"versions_{args.edges}"
    code = IMPORT_CHILD.format(root=str(ROOT), pbf=str(pbf), out=str(root))
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    imp = {"extract": f"SYNTHETIC grid, --edges {args.edges}", **json.loads(res.stdout)}
    record, ok = {"import": imp}, imp["peak_rss_mb"] <= args.limit_mb
    if args.no_recompute:
        print(json.dumps(record, indent=1))
        return 0 if ok else 1
    graph = bench / f"routing_{args.edges}.npz"
    app = _child(["--worker", "app", "--root", str(root), "--repeat", str(args.repeat), "--out", str(graph)])
    cases_file = bench / f"cases_{args.edges}.json"
    cases_file.write_text(json.dumps({"cases": app["cases"], "towns": app["towns"]}))
    base = _child(["--worker", "baseline", "--out", str(graph), "--cases", str(cases_file)])
    checks = {name: same(c["road_km"], base["answers"][name]["road_km"])
              and same(c["travel_min"], base["answers"][name]["travel_min"]) for name, c in app["cases"].items()}
    ok &= all(checks.values()) and app["peak_mb"] <= args.limit_mb
    record.update(app={k: v for k, v in app.items() if k != "cases"}, baseline={k: v for k, v in base.items()
                                                                                if k != "answers"}, checks=checks)
    print(f"SYNTHETIC extract {pbf.name} ({imp['file_mb']} MB), stands for no real place")
    print("\n".join("  " + line for line in report(imp, app, base, checks)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
