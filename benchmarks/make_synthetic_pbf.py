"""Write a SYNTHETIC OpenStreetMap extract (fixed seed) for benchmarking geo.netimport.

python benchmarks/make_synthetic_pbf.py [--edges 2000000] [--out
instance/bench/synthetic_grid_2000000.osm.pbf]

SYNTHETIC: a jittered grid of junctions spread over Kazakhstan's bounding box (lon 50-87, lat
40.5-55.5) with about ``--edges`` junction-to-junction road edges, 0-2 shape vertices per edge (so
contraction has work to do), 5 % of grid edges missing, ways of 1-15 edges with random highway
(trunk, primary, secondary), refs, maxspeed and oneway tags, and one ``railway=rail`` line every 50
rows. It stands for no real place; every object is tagged ``note=SYNTHETIC`` and the file header
names the generator.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import osmium
import osmium.io
import osmium.osm.mutable as mut

ROOT = Path(__file__).resolve().parent.parent
SEED = 14
HIGHWAYS = np.array(["trunk", "primary", "secondary"])
MAXSPEED = np.array(["", "", "", "90", "60 km/h", "RU:rural", "50 mph"])
TAG = {"note": "SYNTHETIC"}


def _grid(n_edges: int, rng: np.random.Generator) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Grid size and jittered junction lon/lat (row-major)."""
    side = max(int(math.sqrt(n_edges / 2 / 0.95)), 2)
    rows, cols = side, side
    dlon, dlat = 37.0 / cols, 15.0 / rows
    c, r = np.meshgrid(np.arange(cols), np.arange(rows))
    lon = 50.0 + (c.ravel() + rng.uniform(-0.2, 0.2, rows * cols)) * dlon
    lat = 40.5 + (r.ravel() + rng.uniform(-0.2, 0.2, rows * cols)) * dlat
    return rows, cols, lon, lat


def _lines(rows: int, cols: int) -> list[np.ndarray]:
    """Every grid row and column as a sequence of junction indices."""
    idx = np.arange(rows * cols).reshape(rows, cols)
    return [idx[r, :] for r in range(rows)] + [idx[:, c] for c in range(cols)]


def _write_nodes(w: osmium.SimpleWriter, lon: np.ndarray, lat: np.ndarray) -> None:
    for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist()), start=1):
        w.add_node(mut.Node(id=i, location=(x, y), version=1))


def _ways(
    lines: list[np.ndarray],
    lon: np.ndarray,
    lat: np.ndarray,
    rng: np.random.Generator,
    shapes_lon: list,
    shapes_lat: list,
):
    """Yield (node ids, line number) per way; shape vertices (ids after the junctions) go to the
    lists."""
    next_id = len(lon) + 1
    for k, line in enumerate(lines):
        keep = rng.random(len(line) - 1) > 0.05
        cut = rng.random(len(line) - 1) < 1 / 8
        way = [int(line[0]) + 1]
        for i in range(len(line) - 1):
            if not keep[i]:
                if len(way) > 1:
                    yield way, k
                way = [int(line[i + 1]) + 1]
                continue
            a, b = line[i], line[i + 1]
            for t in range(1, rng.integers(0, 3) + 1):
                f = t / 3
                shapes_lon.append(lon[a] + f * (lon[b] - lon[a]) + rng.normal(0, 0.002))
                shapes_lat.append(lat[a] + f * (lat[b] - lat[a]) + rng.normal(0, 0.002))
                way.append(next_id)
                next_id += 1
            way.append(int(b) + 1)
            if cut[i]:
                yield way, k
                way = [int(b) + 1]
        if len(way) > 1:
            yield way, k


def _tags(k: int, rng: np.random.Generator) -> dict:
    hw = str(HIGHWAYS[rng.choice(3, p=[0.15, 0.35, 0.5])])
    tags = {
        "highway": hw,
        "ref": f"{'M' if hw == 'trunk' else 'A' if hw == 'primary' else 'KS'}-{k % 97}",
        **TAG,
    }
    speed = str(MAXSPEED[rng.integers(len(MAXSPEED))])
    if speed:
        tags["maxspeed"] = speed
    if rng.random() < 0.05:
        tags["oneway"] = "yes"
    return tags


def write_synthetic(out: Path, n_edges: int, seed: int = SEED) -> dict:
    """Write the SYNTHETIC grid to ``out``; counts of what was written."""
    rng = np.random.default_rng(seed)
    rows, cols, lon, lat = _grid(n_edges, rng)
    shapes_lon, shapes_lat = [], []
    ways = list(_ways(_lines(rows, cols), lon, lat, rng, shapes_lon, shapes_lat))
    slon, slat = np.array(shapes_lon), np.array(shapes_lat)
    rail_rows = range(0, rows, 50)
    rail_lon = np.concatenate([lon.reshape(rows, cols)[r] + 0.01 for r in rail_rows])
    rail_lat = np.concatenate([lat.reshape(rows, cols)[r] + 0.01 for r in rail_rows])
    header = osmium.io.Header()
    header.set(
        "generator",
        "monotown-atlas benchmarks/make_synthetic_pbf.py (SYNTHETIC data, seed %d)" % seed,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with osmium.SimpleWriter(str(out), header=header, overwrite=True) as w:
        _write_nodes(
            w, np.concatenate([lon, slon, rail_lon]), np.concatenate([lat, slat, rail_lat])
        )
        for wid, (nodes, k) in enumerate(ways, start=1):
            w.add_way(mut.Way(id=wid, nodes=nodes, tags=_tags(k, rng), version=1))
        first = len(lon) + len(slon) + 1
        for j, _ in enumerate(rail_rows):
            ids = list(range(first + j * cols, first + (j + 1) * cols))
            w.add_way(
                mut.Way(
                    id=len(ways) + 1 + j,
                    nodes=ids,
                    version=1,
                    tags={"railway": "rail", "usage": "main", **TAG},
                )
            )
    segments = sum(len(n) - 1 for n, _ in ways)
    return {
        "grid": f"{rows}x{cols}",
        "nodes": int(len(lon) + len(slon) + len(rail_lon)),
        "ways": len(ways),
        "road_segments": segments,
        "rail_ways": len(rail_rows),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--edges",
        type=int,
        default=2_000_000,
        help="about this many junction-to-junction road edges",
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    out = args.out or ROOT / "instance" / "bench" / f"synthetic_grid_{args.edges}.osm.pbf"
    t = time.perf_counter()
    counts = write_synthetic(out, args.edges, args.seed)
    print(
        f"SYNTHETIC extract {out} ({out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t:.1f}"
        f" s): {counts}",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
