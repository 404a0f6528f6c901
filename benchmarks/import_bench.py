"""Import time and peak memory of geo.netimport on a SYNTHETIC extract (benchmarks/make_synthetic_pbf.py).

    python benchmarks/import_bench.py [--edges 2000000] [--limit-mb 2048]

The import runs in a fresh child process so its peak resident memory (ru_maxrss) is its own, Python and
the libraries included. Prints one JSON record; exit code 1 when peak memory exceeds ``--limit-mb``.
The extract is SYNTHETIC (a jittered grid, fixed seed) and stands for no real place.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
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
                  "edges": r["edges"], "dropped_components": r["dropped"]["dropped_components"],
                  "dropped_edges": r["dropped"]["dropped_edges"], "railways": r["railways"],
                  "file_mb": round(r["bytes"] / 1e6, 1)}}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=2_000_000)
    ap.add_argument("--limit-mb", type=float, default=2048)
    args = ap.parse_args(argv)
    pbf = ROOT / "instance" / "bench" / f"synthetic_grid_{args.edges}.osm.pbf"
    if not pbf.exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_synthetic_pbf.py"), "--edges",
                        str(args.edges), "--out", str(pbf)], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as out:
        code = CHILD.format(root=str(ROOT), pbf=str(pbf), out=out)
        res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    record = {"extract": f"SYNTHETIC grid, --edges {args.edges}", **json.loads(res.stdout)}
    print(json.dumps(record, indent=1))
    return 0 if record["peak_rss_mb"] <= args.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
