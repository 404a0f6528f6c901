"""The uncertain modelling choices (data/method/uncertainty.csv) and seeded draws of them.

One row of the file is one *choice*: a spatial parameter (its value), a band shift (all bounds of
one indicator moved together), the rule's ``recommend_margin``, a relative measurement error of one
sourced statistical input, or a ``dummy`` control that changes nothing. ``load_choices`` validates
the whole file and raises one ``MethodError`` naming the file and row of every problem; ``design``
draws the matrices of a Saltelli (2010) design from one seed, with row 0 of ``a`` at the defaults.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo.params import Params, default_params, load_specs

from ._errors import MethodError
from .method import DEFAULT_METHOD_DIR, Method, _read_csv

CHOICES_FILE = DEFAULT_METHOD_DIR / "uncertainty.csv"
COLUMNS = ("choice", "kind", "target", "scale", "low", "high", "distribution", "default",
           "description")
KINDS = ("spatial param", "band shift", "rule margin", "measurement error", "dummy")
DISTRIBUTIONS = ("uniform", "triangular", "integer")
SCALES = ("absolute", "relative")
# the network topology (snap_km, on_network_km) and the set-valued parameters stay at their base
SPATIAL_TARGETS = ("fua_minutes", "near_km", "corridor_km", "corridor_min_lines",
                   "large_city_min_pop")
SPATIAL_PREFIXES = ("speed_", "detour_")


@dataclass(frozen=True)
class Choice:
    """One uncertain modelling choice and its range."""

    name: str
    kind: str
    target: str
    scale: str  # absolute: low/high are values; relative: low/high are fractions (x * (1 + s))
    low: float
    high: float
    distribution: str
    default: float
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"choice": self.name, "kind": self.kind, "target": self.target, "scale": self.scale,
                "low": self.low, "high": self.high, "distribution": self.distribution,
                "default": self.default, "description": self.description}


@dataclass(frozen=True)
class Design:
    """Seeded draws: ``a`` (row 0 = defaults) and ``b``, each (n, choices), in value space."""

    a: np.ndarray
    b: np.ndarray

    def stacked(self) -> np.ndarray:
        """Rows a, b, then a with column i taken from b for each choice i: n * (choices + 2)
        rows."""
        blocks = [self.a, self.b]
        for i in range(self.a.shape[1]):
            ab = self.a.copy()
            ab[:, i] = self.b[:, i]
            blocks.append(ab)
        return np.vstack(blocks)


# -- loading -------------------------------------------------------------------------------------

def load_choices(method: Method, path: str | Path = CHOICES_FILE, *,
                 base: Params | None = None) -> tuple[Choice, ...]:
    """Read and validate the uncertain choices.

    Parameters
    ----------
    method : Method
        Supplies the levelled indicators, the statistical inputs and ``recommend_margin``.
    path : path of the CSV (columns ``COLUMNS``).
    base : the spatial parameters whose values are the defaults (default: geo_params.csv defaults).

    Returns
    -------
    tuple of Choice, in file order.

    Raises
    ------
    MethodError
        Every problem, each naming the file, row and choice.
    """
    path, base = Path(path), base or default_params()
    problems: list[str] = []
    rows = _read(path, problems)
    out, seen, targets = [], set(), set()
    for n, row in enumerate(rows, start=2):
        where = f"{path.name} row {n} ({row.get('choice') or '?'})"
        choice = _parse_row(row, where, problems)
        if choice is None:
            continue
        if choice.name in seen:
            problems.append(f"{where}: choice '{choice.name}' defined twice")
        if choice.kind != "dummy" and (choice.kind, choice.target) in targets:
            problems.append(f"{where}: a second choice for {choice.kind} '{choice.target}'")
        seen.add(choice.name)
        targets.add((choice.kind, choice.target))
        problems += [f"{where}: {p}" for p in _check_target(choice, method, base)]
        out.append(choice)
    if problems:
        raise MethodError(problems)
    return tuple(out)


def _read(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    return _read_csv(path, list(COLUMNS), problems)


def _number(text: str, col: str, where: str, problems: list[str]) -> float | None:
    try:
        x = float((text or "").strip())
    except ValueError:
        problems.append(f"{where}: {col} '{text}' is not a number")
        return None
    if not math.isfinite(x):
        problems.append(f"{where}: {col} '{text}' is not finite")
        return None
    return x


def _parse_row(row: dict[str, Any], where: str, problems: list[str]) -> Choice | None:
    """The row's fields, typed and checked on their own (not yet against the method)."""
    before = len(problems)
    name = (row["choice"] or "").strip()
    if not name or not name.replace("_", "").isalnum():
        problems.append(f"{where}: choice '{name}' must be letters, digits or _")
    for col, allowed in (("kind", KINDS), ("distribution", DISTRIBUTIONS), ("scale", SCALES)):
        if row[col] not in allowed:
            problems.append(f"{where}: {col} '{row[col]}' not one of {', '.join(allowed)}")
    low, high, default = (_number(row[c], c, where, problems) for c in ("low", "high", "default"))
    if low is not None and high is not None and default is not None and not low <= default <= high:
        problems.append(f"{where}: needs low <= default <= high, got {low:g}, {default:g}, "
                        f"{high:g}")
    whole = low is None or high is None or (low == int(low) and high == int(high))
    if row["distribution"] == "integer" and not whole:
        problems.append(f"{where}: an integer distribution needs whole low and high")
    if len(problems) > before or low is None or high is None or default is None:
        return None
    return Choice(name, row["kind"], (row["target"] or "").strip(), row["scale"], low, high,
                  row["distribution"], default, row["description"])


def _check_target(c: Choice, method: Method, base: Params) -> list[str]:
    """Problems of a choice against what it changes (the target exists, the default is the
    model's)."""
    if c.kind == "spatial param":
        return _check_spatial(c, base)
    zero = [] if c.default == 0 else [f"default must be 0 (no change), got {c.default:g}"]
    if c.kind == "band shift":
        out = [] if c.target in method.levelled else [
            f"target '{c.target}' is not a levelled indicator ({', '.join(method.levelled)})"]
        if c.scale == "relative" and c.low <= -1:
            out.append("a relative band shift must stay above -1 (bounds times 1 + s), "
                       f"got low {c.low:g}")
        return out + zero
    if c.kind == "rule margin":
        margin = method.settings["recommend_margin"]
        out = [] if c.target == "recommend_margin" else [
            f"target must be recommend_margin, got '{c.target}'"]
        out += [] if c.scale == "absolute" and c.low >= 0 else ["needs scale absolute and low >= 0"]
        return out + ([] if c.default == margin else [
            f"default {c.default:g} differs from method.json recommend_margin {margin:g}"])
    if c.kind == "measurement error":
        stats = method.input_names("statistical")
        out = [] if c.target in stats else [
            f"target '{c.target}' is not a statistical input ({', '.join(stats)})"]
        out += [] if c.scale == "relative" and c.low > -1 else ["needs scale relative and low > -1"]
        return out + zero
    return [] if not c.target else [f"a dummy has no target, got '{c.target}'"]


def _check_spatial(c: Choice, base: Params) -> list[str]:
    specs = load_specs()
    prefixed = c.target.startswith(SPATIAL_PREFIXES) and c.target in specs
    if not (c.target in SPATIAL_TARGETS or prefixed):
        return [f"target '{c.target}' is not a supported spatial parameter "
                f"({', '.join(SPATIAL_TARGETS)}, speed_<class>, detour_<class>); snap_km and "
                "on_network_km change the network and stay fixed"]
    spec, out = specs[c.target], []
    if c.scale != "absolute":
        out.append("a spatial param takes absolute values (scale absolute)")
    lo = -math.inf if spec.min is None else spec.min
    hi = math.inf if spec.max is None else spec.max
    if not (lo <= c.low and c.high <= hi):
        out.append(f"range {c.low:g}-{c.high:g} outside geo_params.csv's {lo:g}-{hi:g} {spec.unit}")
    if spec.type == "integer" and c.distribution != "integer":
        out.append(f"{c.target} is an integer: use distribution integer")
    if c.default != base[c.target]:
        out.append(f"default {c.default:g} differs from the base value {base[c.target]:g} "
                   "(draw 0 must be the pipeline's run)")
    return out


# -- sampling ------------------------------------------------------------------------------------

def _quantile(c: Choice, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of the choice's distribution at uniforms ``u`` in [0, 1)."""
    lo, hi, mode = c.low, c.high, c.default
    if hi == lo:
        return np.full(u.shape, lo)
    if c.distribution == "uniform":
        return lo + u * (hi - lo)
    if c.distribution == "integer":
        return np.minimum(np.floor(lo + u * (hi - lo + 1)), hi)
    cut = (mode - lo) / (hi - lo)
    left = lo + np.sqrt(u * (hi - lo) * (mode - lo))
    right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode))
    return np.where(u < cut, left, right)


def design(choices: tuple[Choice, ...], n: int, seed: int) -> Design:
    """Two independent seeded samples of the choices, the first with row 0 at the defaults.

    Parameters
    ----------
    choices : the choices (columns, in order).
    n : rows per sample (the number of draws), at least 2.
    seed : seed of ``numpy.random.default_rng``; the same seed gives the same design.
    """
    if n < 2:
        raise ValueError(f"draws must be at least 2, got {n}")
    rng = np.random.default_rng(seed)
    ua, ub = rng.random((n, len(choices))), rng.random((n, len(choices)))
    a = np.column_stack([_quantile(c, ua[:, i]) for i, c in enumerate(choices)]) if choices else ua
    b = np.column_stack([_quantile(c, ub[:, i]) for i, c in enumerate(choices)]) if choices else ub
    a[0] = [c.default for c in choices]
    return Design(a, b)
