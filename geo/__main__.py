"""Command line: ``python -m geo agglomeration [--json] [--fua-minutes M] ...``, ``python -m geo
validate``, ``python -m geo import-network FILE --name NAME`` and ``python -m geo networks``.

Every spatial parameter of data/method/geo_params.csv is an option (underscores become dashes);
``--planned-road FROM TO CLASS`` adds a planned road (repeatable; an end is a place name or
"lon,lat"). Bad parameters: every problem on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ParamError
from .params import load_specs, parse_params

if TYPE_CHECKING:
    from .results import Derivation


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m geo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    ag = sub.add_parser("agglomeration",
                        help="derive the three agglomeration inputs for the 27 towns")
    ag.add_argument("--json", action="store_true")
    for name, spec in load_specs().items():
        default = ",".join(spec.default) if isinstance(spec.default, tuple) else spec.default
        unit = " " + spec.unit if spec.unit else ""
        ag.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                        help=f"{spec.description} (default {default}{unit})")
    sub.add_parser("import-network", help="import an OSM extract or a roads layer as a network "
                   "version (see --help)")
    sub.add_parser("networks", help="list the imported network versions")
    va = sub.add_parser("validate", help="derived road km against the published distances of "
                        "data/validation/")
    va.add_argument("--json", action="store_true")
    ag.add_argument("--networks-root", default=None,
                    help="folder of the saved versions (default instance/networks)")
    ag.add_argument("--planned-road", nargs=3, action="append", metavar=("FROM", "TO", "CLASS"),
                    default=[],
                    help="a planned road between two places (any language) or 'lon,lat' points")
    return ap


def cli_raw(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as the raw mapping that parse_params reads (the same as a query
    string)."""
    raw = {k: v for k, v in vars(args).items() if k in load_specs() and v is not None}
    if args.planned_road:
        raw["planned_roads"] = [{"from": a, "to": b, "class": c} for a, b, c in args.planned_road]
    return raw


def _print_table(records: list[dict[str, Any]], derivation: Derivation) -> None:
    print(f"{'town':12} {'fua':>4} {'near':>5} {'junc':>5}  {'nearest large city':18} "
          f"{'road km':>8} {'min':>6}  lines")
    for r in records:
        km = "-" if r["road_km"] is None else f"{r['road_km']:.0f}"
        mins = "-" if r["travel_min"] is None else f"{r['travel_min']:.0f}"
        flag = " (assumed access)" if r["assumed_access"] else ""
        print(f"{r['town']:12} {str(r['aggl_in_fua']):>4} {str(r['aggl_near_large_city']):>5} "
              f"{str(r['aggl_corridor_junction']):>5}  {str(r['nearest_large_city']):18} "
              f"{km:>8} {mins:>6}  "
              f"{', '.join(r['lines_within_radius']) or '-'}{flag}")
    for town in derivation.towns:
        if town.unroutable:
            print(f"UNROUTABLE {town.town}: {town.unroutable}")


def _validate(as_json: bool) -> int:
    from .agglomeration import SpatialModel
    from .params import default_params
    from .validation import load_table, summary, validate

    results = validate(SpatialModel(), default_params(), load_table())
    summ = summary(results)
    if as_json:
        print(json.dumps({"rows": results, "summary": summ}, ensure_ascii=False, indent=1))
        return 0
    print(f"{'town':12} {'city':12} {'derived km':>10} {'published':>9} {'ratio':>6}  "
          f"{'measure':17} {'nearest (derived)':18} verdict")
    for r in results:
        km = "-" if r["derived_km"] is None else f"{r['derived_km']:.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        used = f" (figure used as the length of {r['input_link']})" if r.get("input_link") else ""
        print(f"{r['town']:12} {r['city']:12} {km:>10} {r['published_km']:>9g} {ratio:>6}  "
              f"{r['measure']:17} "
              f"{str(r['nearest_derived']):18} {r['verdict']}{used}")
    print(f"\n{summ['within_15pct']} of {summ['judged']} judged rows within 15 %; median error "
          f"{summ['median_error']:.1%}; worst {summ['worst']['town']} "
          f"({summ['worst']['ratio']:.2f}); nearest city as "
          f"published for {summ['nearest_as_published']} of {summ['nearest_named']}")
    print(f"without the rows whose figure is also a length in the network: "
          f"{summ['within_15pct_independent']} of {summ['judged_independent']} within 15 %")
    return 0


SUBPROGRAMS = {"import-network": "import_network_main", "networks": "networks_main"}


def main(argv: Sequence[str] | None = None) -> int:
    from .agglomeration import SpatialModel, cli_records

    argv = sys.argv[1:] if argv is None else list(argv)
    # the network versions have their own parsers (geo.netimport)
    if argv and argv[0] in SUBPROGRAMS:
        from . import netimport

        subprogram: Callable[[list[str]], int] = getattr(netimport, SUBPROGRAMS[argv[0]])
        return subprogram(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "validate":
        return _validate(args.json)
    from .netimport import DEFAULT_ROOT, NetworkImportError
    from .versions import layers_for

    try:
        params = parse_params(cli_raw(args))
        layers = layers_for(params.network, args.networks_root or DEFAULT_ROOT)
        derivation = SpatialModel(layers).derive(params)
    except ParamError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except NetworkImportError as exc:
        print(f"network: {exc}", file=sys.stderr)
        return 2
    records = cli_records(derivation)
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        _print_table(records, derivation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
