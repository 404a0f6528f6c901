"""Command line: ``python -m scoring evaluate FILE.csv [--json]``, ``paper``,
``atlas [--json] [--with-estimates]``, ``robustness [--draws N] [--seed S] [--json]``,
``build-estimates [--check]``, ``backtest [--json]``."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from ._errors import InputError, MethodError
from .engine import evaluate_records, read_csv_records
from .method import Method, load_method

PUBLIC_KEYS = ("town", "indices", "levels", "scenario", "missing")
PUBLIC_SCENARIO_KEYS = ("scores", "recommended", "completeness", "explanation", "tied", "possible",
                        "settled", "decisive")


def public_record(result: dict[str, Any]) -> dict[str, Any]:
    """The documented CLI contract: town, indices, levels, scenario, missing (+ expert if any)."""
    out = {k: result[k] for k in PUBLIC_KEYS}
    out["scenario"] = {k: result["scenario"][k] for k in PUBLIC_SCENARIO_KEYS}
    return out


def _uncertainty_lines(s: dict[str, Any]) -> list[str]:
    """The tie, and for an unsettled town the possible scenarios and the most decisive missing
    input."""
    lines = [f"tie: {s['summary']}"] if s["tie"] else []
    if not s["settled"]:
        lines.append(f"undetermined: any of {', '.join(s['possible'])}; most decisive missing "
                     f"input: {s['decisive']} (leaves at most {s['decisive_worst']} possible)")
    return lines


def _table(results: list[dict[str, Any]], method: Method) -> str:
    lines = []
    for r in results:
        lines.append(f"{r['town']}  (completeness {r['scenario']['completeness']})")
        for code, value in r["indices"].items():
            shown = "no data" if value is None else f"{value:.4f}"
            level = r["levels"].get(code) or ("no data" if code in method.levelled else "")
            lines.append(f"  {code:16} {shown:>10}  {level}")
        s = r["scenario"]
        lines.append("  scores: " + ", ".join(f"{k} {v}" for k, v in s["scores"].items()))
        lines.append(f"  {s['explanation']}")
        lines.extend(f"  {line}" for line in _uncertainty_lines(s))
        if r["missing"]:
            lines.append(f"  missing inputs: {', '.join(r['missing'])}")
        lines.append("")
    return "\n".join(lines)


ESTIMATE_SCENARIO_KEYS = ("likely", "shares", "outcomes", "estimated_levels", "settled_by",
                          "without_estimates")


def _with_estimates(r: dict[str, Any]) -> dict[str, Any]:
    """A town's record in the ``--with-estimates`` mode: the public record, its provenance, the
    estimates it uses (``estimated``) and the scenario's probable part."""
    out = public_record(r) | {"provenance": r["provenance"]}
    out["scenario"] |= {k: r["scenario"][k] for k in ESTIMATE_SCENARIO_KEYS}
    return out | {"estimated": {k: {f: e[f] for f in ("low", "high", "method", "source")}
                                for k, e in r["estimated"].items()}}


def _atlas(method: Method, as_json: bool, estimates: bool = False) -> int:
    from .pipeline import Pipeline

    atlas = Pipeline().run(estimates=estimates)
    if as_json:
        record = _with_estimates if estimates else (
            lambda r: public_record(r) | {"provenance": r["provenance"]})
        print(json.dumps([record(r) for r in atlas["towns"]], ensure_ascii=False, indent=1))
        return 0
    print(f"{'town':12} {'complete':8} {'recommended':30} "
          "levels (mono, econ+social, demo, invest, aggl, special)")
    for r in atlas["towns"]:
        s = r["scenario"]
        lv = ", ".join(r["levels"][c] or "-" for c in method.levelled)
        rec = (("tie: " + "/".join(s["tied"])) if s["tie"]
               else (" + ".join(s["recommended"]) or "insufficient data"))
        rec += " (provisional)" if s["provisional"] else ""
        if estimates:
            lk = s["likely"]
            rec = f"{rec}; possible {'/'.join(s['possible'])}; likely {lk['scenario']} " \
                  f"({lk['share']:.2f})"
        print(f"{r['town']:12} {s['completeness']:8} {rec:30} {lv}")
    print("\nThe paper's agglomeration inputs beside the derived ones:")
    for r in atlas["towns"]:
        for p in r.get("paper_agglomeration", []):
            mark = "DIFFERS" if p["differs"] else "same"
            print(f"  {r['town']:9} {p['input']:24} paper {p['paper']:>5g} "
                  f"derived {p['derived']!s:>5} {mark}: {p['why']}")
    return 0


MAX_DRAWS = 10_000  # time grows with the draws; memory does not (draws are reduced in chunks)


def _robustness(args: argparse.Namespace) -> int:
    import time

    from .pipeline import Pipeline
    from .robustness import robustness, text_report

    if not 2 <= args.draws <= MAX_DRAWS:
        print(f"error: --draws must be 2 to {MAX_DRAWS:,} (the time grows with the draws), "
              f"got {args.draws:,}", file=sys.stderr)
        return 2
    show = args.progress or sys.stderr.isatty()
    start = time.perf_counter()
    result = robustness(Pipeline(), draws=args.draws, seed=args.seed,
                        progress=progress_bar(sys.stderr) if show else None)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else text_report(result))
    print(f"{args.draws} draws ({result['evaluations']} evaluations) in "
          f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0


def _build_estimates(check: bool, output: str | None) -> int:
    """Write data/estimates.csv from the evidence (or, with ``check``, compare it)."""
    import io

    from .estimates import ESTIMATES_FILE
    from .estimation import build_missing, write
    from .loaders import load_values
    from .pipeline import DATA_DIR

    method = load_method()
    rows = build_missing(load_values(DATA_DIR / "statistics.csv", method, "statistical"))
    path = output or str(ESTIMATES_FILE)
    if not check:
        write(rows, path)
        print(f"{len(rows)} estimates written to {path}", file=sys.stderr)
        return 0
    buf = io.StringIO()
    write(rows, buf)
    with open(path, encoding="utf-8") as fh:
        same = fh.read() == buf.getvalue()
    print(f"{path} {'is' if same else 'is NOT'} what the rules give from the evidence "
          f"({len(rows)} rows)", file=sys.stderr)
    return 0 if same else 1


def _backtest(as_json: bool, draws: int, seed: int) -> int:
    from .backtest import backtest, text_report

    if not 2 <= draws <= MAX_DRAWS:
        print(f"error: --draws must be 2 to {MAX_DRAWS:,}, got {draws:,}", file=sys.stderr)
        return 2
    result = backtest(draws=draws, seed=seed)
    print(json.dumps(result, ensure_ascii=False, indent=1) if as_json else text_report(result))
    return 0 if result["honoured"] else 1


def progress_bar(stream: TextIO, width: int = 40) -> Callable[[int, int], None]:
    """A progress callback (done, total) drawing a bar on ``stream``; a newline when done."""
    def show(done: int, total: int) -> None:
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        stream.write(f"\rrobustness [{bar}] {100 * done // total:3d}%")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate",
                        help="score the towns in a CSV (a 'town' column plus canonical inputs)")
    ev.add_argument("file")
    ev.add_argument("--json", action="store_true", help="JSON output, one record per town")
    sub.add_parser("paper", help="the reproduction report for the paper's three towns")
    at = sub.add_parser("atlas", help="all 27 towns: sourced statistics + derived agglomeration "
                                      "(default spatial parameters) + curated special potential, "
                                      "scored")
    at.add_argument("--json", action="store_true")
    at.add_argument("--with-estimates", action="store_true",
                    help="add the interval estimates of data/estimates.csv where a value is "
                         "missing: per town 'estimated', the narrowed 'possible', 'likely'")
    be = sub.add_parser("build-estimates", help="write data/estimates.csv from "
                                               "data/sources/estimates_evidence.csv by the rules "
                                               "of data/method/estimation_rules.csv")
    be.add_argument("--check", action="store_true",
                    help="only compare the file with what the rules give (exit 1 if it differs)")
    be.add_argument("--output", help="write here instead of data/estimates.csv")
    bt = sub.add_parser("backtest", help="the estimation rules on the paper's three towns: "
                                         "coverage of the paper's values and p_actual")
    bt.add_argument("--json", action="store_true")
    bt.add_argument("--draws", type=int, default=1000, help="number of draws (default 1000)")
    bt.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    rb = sub.add_parser("robustness", help="scenario shares, stability, variants and drivers of "
                                           "every town under the uncertain choices of "
                                           "data/method/uncertainty.csv")
    rb.add_argument("--draws", type=int, default=1000, help="number of draws (default 1000)")
    rb.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    rb.add_argument("--json", action="store_true")
    rb.add_argument("--progress", action="store_true",
                    help="progress bar on stderr even when it is not a terminal")
    args = parser.parse_args(argv)
    try:
        method = load_method()
        if args.command == "robustness":
            return _robustness(args)
        if args.command == "atlas":
            return _atlas(method, args.json, args.with_estimates)
        if args.command == "build-estimates":
            return _build_estimates(args.check, args.output)
        if args.command == "backtest":
            return _backtest(args.json, args.draws, args.seed)
        if args.command == "paper":
            from .paper import report
            print(report(method))
            return 0
        try:
            records = read_csv_records(args.file)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
        if not records:
            print(f"error: {args.file} has no rows; expected a 'town' column plus canonical input "
                  "columns", file=sys.stderr)
            return 2
        results = evaluate_records(records, method, source=args.file)
    except (InputError, MethodError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([public_record(r) for r in results], ensure_ascii=False, indent=1))
    else:
        print(_table(results, method))
    return 0


if __name__ == "__main__":
    sys.exit(main())
