"""Recompute speed on SYNTHETIC road-like planar graphs (fixed seed), as ratios in one run.

    python -m benchmarks.recompute [--sizes 50000 500000] [--repeat 3]

Graphs: Delaunay triangulations of random points (planar), 15 % of edges dropped, km = Euclidean
length of a 1000 km square, minutes from a random class speed. 20 'large cities' and 27 'towns' are
random nodes. Measured, each as a ratio of medians in the same run:
  - full recompute (geo.routing.Routing: 2 metrics x 20 sources + nearest) vs networkx baseline
    (one shortest-path search per town and metric): target >= 10x;
  - a threshold / large-city-set change (array work on the matrices) vs full recompute: >= 40x at 500k;
  - a planned road (geo.routing.Routing.with_planned: 2 searches per metric) vs full: >= 5x at 500k.
It also checks that all three give the same nearest-city distances as networkx. These graphs are
synthetic and stand for no real place.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import networkx as nx
import numpy as np
from scipy.spatial import Delaunay

from geo.routing import Routing, nearest

N_CITIES, N_TOWNS = 20, 27


def synthetic_graph(target_edges: int, seed: int = 42):
    rng = np.random.default_rng(seed)
    n = int(target_edges / 3 / 0.85) + 10
    pts = rng.random((n, 2)) * 1000.0
    tri = Delaunay(pts).simplices
    e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[rng.random(len(e)) > 0.15]
    u, v = e[:, 0], e[:, 1]
    km = np.linalg.norm(pts[u] - pts[v], axis=1) * 1.06
    speed = rng.choice([50.0, 70.0, 90.0], size=len(u))
    return n, u, v, {"km": km, "min": km / speed * 60}, pts, rng


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def nx_nearest(n, u, v, w, cities, towns, extra=None):
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for a, b, x in zip(u.tolist(), v.tolist(), w.tolist()):
        if not g.has_edge(a, b) or g[a][b]["w"] > x:
            g.add_edge(a, b, w=x)
    if extra:
        a, b, x = extra
        if not g.has_edge(a, b) or g[a][b]["w"] > x:
            g.add_edge(a, b, w=x)
    d = nx.multi_source_dijkstra_path_length(g, [int(c) for c in cities], weight="w")
    return np.array([d.get(int(t), np.inf) for t in towns])


def run(size: int, repeat: int) -> dict:
    n, u, v, w, pts, rng = synthetic_graph(size)
    cities = rng.choice(n, N_CITIES, replace=False)
    towns = rng.choice(np.setdiff1d(np.arange(n), cities), N_TOWNS, replace=False)
    all_rows = np.arange(N_CITIES)

    g = {m: nx.Graph() for m in w}
    for m in w:
        g[m].add_weighted_edges_from(zip(u.tolist(), v.tolist(), w[m].tolist()), weight="w")

    def baseline():  # one networkx search per town and metric
        out = {}
        for m in w:
            out[m] = np.array([min((d for c, d in nx.single_source_dijkstra_path_length(g[m], int(t), weight="w").items()
                                    if c in set(cities.tolist())), default=np.inf) for t in towns])
        return out

    def full():
        r = Routing(n, u, v, w, cities)
        return r, {m: nearest(r.dist[m], all_rows, towns)[1] for m in w}

    t_base, base = timed(baseline, 1)
    t_full, (routing, res_full) = timed(full, repeat)
    subset = all_rows[::2]

    def change():  # other thresholds and half of the cities: array work only
        out = {m: nearest(routing.dist[m], subset, towns)[1] for m in w}
        return out, out["km"] <= 150.0, out["min"] <= 90.0

    t_change, (res_change, _, _) = timed(change, max(repeat, 20))
    a, b = int(towns[0]), int(cities[-1])
    road = {"a": a, "b": b, "km": float(np.linalg.norm(pts[a] - pts[b])), "min": float(np.linalg.norm(pts[a] - pts[b]) / 90 * 60)}

    def planned():
        r2 = routing.with_planned([road])
        return {m: nearest(r2.dist[m], all_rows, towns)[1] for m in w}

    t_planned, res_planned = timed(planned, repeat)

    ok = True
    for m in w:
        ok &= np.allclose(res_full[m], base[m], rtol=1e-5)
        ok &= np.allclose(res_change[m], nx_nearest(n, u, v, w[m], cities[subset], towns), rtol=1e-5)
        ok &= np.allclose(res_planned[m], nx_nearest(n, u, v, w[m], cities, towns, (a, b, road[m])), rtol=1e-5)
    return {"edges": len(u), "nodes": n, "baseline_s": t_base, "full_s": t_full, "change_s": t_change,
            "planned_s": t_planned, "full_vs_networkx": t_base / t_full, "change_vs_full": t_full / t_change,
            "planned_vs_full": t_full / t_planned, "same_as_networkx": bool(ok)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print("SYNTHETIC graphs (fixed seed 42); ratios are medians measured in this run")
    print(f"{'edges':>8} {'nodes':>7} {'networkx s':>10} {'full s':>8} {'full vs nx':>10} "
          f"{'change vs full':>14} {'planned vs full':>15}  same as networkx")
    ok = True
    for size in args.sizes:
        r = run(size, args.repeat)
        ok &= r["same_as_networkx"]
        print(f"{r['edges']:>8} {r['nodes']:>7} {r['baseline_s']:>10.2f} {r['full_s']:>8.3f} "
              f"{r['full_vs_networkx']:>9.1f}x {r['change_vs_full']:>13.0f}x {r['planned_vs_full']:>14.1f}x  "
              f"{'yes' if r['same_as_networkx'] else 'NO'}")
    print()
    print(shipped_network_timings())
    return 0 if ok else 1


def shipped_network_timings(repeat: int = 20) -> str:
    """Wall time of the app's pipeline (derive + score all 27 towns) on the shipped network, ms (median)."""
    from geo.params import parse_params
    from scoring.pipeline import Pipeline

    pipeline = Pipeline()
    pipeline.run()
    cases = {"threshold change (cached network)": lambda i: pipeline.run(parse_params({"near_km": 50 + i})),
             "speed change (new distance matrices)": lambda i: pipeline.run(parse_params({"speed_republican": 40 + i})),
             "planned road": lambda i: pipeline.run(parse_params({"near_km": 100 + i, "planned_roads": [
                 {"from": "Karazhal", "to": "Zhezkazgan", "class": "republican"}]}))}
    lines = ["shipped network (real data): median ms per pipeline run (derive + score) of all 27 towns"]
    for name, fn in cases.items():
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            fn(i)
            times.append((time.perf_counter() - t) * 1000)
        lines.append(f"  {name:40} {statistics.median(times):6.1f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
