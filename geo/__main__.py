"""Command line: ``python -m geo agglomeration [--json] [--fua-minutes M] ...``.

Every spatial parameter of data/method/geo_params.csv is an option (underscores become dashes);
``--planned-road FROM TO CLASS`` adds a planned road (repeatable). Bad parameters: exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from ._errors import ParamError
from .agglomeration import SpatialModel, cli_records
from .params import load_specs


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m geo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    ag = sub.add_parser("agglomeration", help="derive the three agglomeration inputs for the 27 towns")
    ag.add_argument("--json", action="store_true")
    for name, spec in load_specs().items():
        ag.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                        help=f"{spec['description']} (default {spec['default']}{' ' + spec['unit'] if spec['unit'] else ''})")
    ag.add_argument("--planned-road", nargs=3, action="append", metavar=("FROM", "TO", "CLASS"), default=[],
                    help="a planned road between two settlements (any language) or 'lon,lat' points")
    return ap


def _end(text: str):
    parts = text.split(",")
    if len(parts) == 2:
        try:
            return [float(parts[0]), float(parts[1])]
        except ValueError:
            pass
    return text


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    raw = {k: v for k, v in vars(args).items() if k in load_specs() and v is not None}
    if args.planned_road:
        raw["planned_roads"] = [{"from": _end(a), "to": _end(b), "class": c} for a, b, c in args.planned_road]
    try:
        result = SpatialModel().derive(raw)
    except ParamError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    records = cli_records(result)
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=1))
        return 0
    print(f"{'town':12} {'fua':>4} {'near':>5} {'junc':>5}  {'nearest large city':18} {'road km':>8} {'min':>6}  lines")
    for r in records:
        km = "-" if r["road_km"] is None else f"{r['road_km']:.0f}"
        mins = "-" if r["travel_min"] is None else f"{r['travel_min']:.0f}"
        flag = " (assumed access)" if r["assumed_access"] else ""
        print(f"{r['town']:12} {str(r['aggl_in_fua']):>4} {str(r['aggl_near_large_city']):>5} "
              f"{str(r['aggl_corridor_junction']):>5}  {str(r['nearest_large_city']):18} {km:>8} {mins:>6}  "
              f"{', '.join(r['lines_within_radius']) or '-'}{flag}")
    for town in (r for r in result["towns"] if r["unroutable"]):
        print(f"UNROUTABLE {town['town']}: {town['unroutable']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
