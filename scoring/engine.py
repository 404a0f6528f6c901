"""Evaluate towns: inputs -> indices -> levels -> scenario scores, with every step explained.

The arithmetic is the method kernel's (:mod:`scoring.kernel`, one call for all towns not cached);
this module turns its rows into records and keeps them.

A town's result depends only on its inputs and the method, so :func:`evaluate_many` keeps, per
method object, the results of the inputs it has seen (and, one level down, the scenario assessment
per set of levels): a new spatial parameter usually changes one derived input of a few towns and no
level, and the 27 towns are then scored from these caches. Each call returns a fresh copy (callers
own it).
"""
from __future__ import annotations

import csv
import marshal
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import kernel
from .indicators import explained, input_columns
from .method import Method, load_method
from .scenarios import score_scenarios
from .uncertainty import assess
from .validate import validate_records

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SCENARIO_KEYS = ("scores", "recommended", "completeness", "provisional", "explanation", "reasons",
                 "tie", "tied", "summary", "possible", "settled", "decisive", "decisive_worst",
                 "decisive_mean", "completions")
Record = dict[str, Any]
CACHE_ENTRIES = 4096  # per method and kind (results by inputs, scenarios by levels): a few MB


class _Memo:
    """A bounded, thread-safe LRU map (the per-method caches)."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# id(method) -> (weakref to it, results memo, scenarios memo)
_MEMOS: dict[int, tuple[weakref.ref[Method], _Memo, _Memo]] = {}
_MEMOS_LOCK = threading.Lock()


def _memos(method: Method) -> tuple[_Memo, _Memo]:
    """The caches of one method object (a Method holds dicts, so it is not hashable: keyed by
    identity, checked through a weak reference and dropped when the method is)."""
    key = id(method)
    with _MEMOS_LOCK:
        entry = _MEMOS.get(key)
        if entry is None or entry[0]() is not method:
            ref = weakref.ref(method, lambda _r: _MEMOS.pop(key, None))
            entry = _MEMOS[key] = (ref, _Memo(CACHE_ENTRIES), _Memo(CACHE_ENTRIES))
        return entry[1], entry[2]


def _frozen(record: dict[str, Any]) -> bytes | None:
    """A result kept as marshal bytes: loading them is a deep copy made in C (dicts keep their
    order). None when the record holds what marshal cannot write (e.g. a numpy scalar): then it is
    not cached."""
    try:
        return marshal.dumps(record)
    except ValueError:
        return None


def _fresh(frozen: bytes) -> dict[str, Any]:
    record: dict[str, Any] = marshal.loads(frozen)
    return record


def _value_key(v: Any) -> tuple[Any, ...] | None:
    """A cache key telling apart what compares equal but prints differently (-0.0 and 0.0, 1 and
    1.0)."""
    if v is None:
        return None
    return (v.__class__, v, math.copysign(1.0, v) if isinstance(v, float) and v == 0 else 0)


def _scenario(levels: dict[str, Any], method: Method, memo: _Memo) -> dict[str, Any]:
    """score_scenarios | assess for one set of levels (cached per method)."""
    key = tuple(levels[c] for c in method.levelled)
    found = memo.get(key)
    if found is None:
        scenario = score_scenarios(levels, method) | assess(levels, method)
        scenario = {k: scenario[k] for k in SCENARIO_KEYS}
        found = _frozen(scenario)
        if found is None:
            return scenario
        memo.put(key, found)
    return _fresh(found)


def _records(rows: Sequence[Mapping[str, Any]], method: Method,
             scenarios: _Memo | None) -> list[Record]:
    """The straightforward evaluation of several towns: one kernel call for their indices and
    levels, the scenario assessment per set of levels (cached in ``scenarios`` when given)."""
    index, items = kernel.indices(input_columns(rows, method), method)
    positions = kernel.levels(index, method)
    out = []
    for i, inputs in enumerate(rows):
        comp = explained(inputs, i, index, items, method)
        indices = {code: res["value"] for code, res in comp.items()}
        levels = {code: kernel.level_name(code, int(positions[code][i]), method)
                  for code in method.levelled}
        if scenarios is None:
            full = score_scenarios(levels, method) | assess(levels, method)
            scenario = {k: full[k] for k in SCENARIO_KEYS}
        else:
            scenario = _scenario(levels, method, scenarios)
        out.append({
            "indices": indices,
            "levels": levels,
            "scenario": scenario,
            "missing": [name for name in method.inputs if inputs.get(name) is None],
            "details": {code: {"substituted": res["substituted"], "missing": res["missing"],
                               "items": res["items"]} for code, res in comp.items()},
        })
    return out


def evaluate_uncached(inputs: Mapping[str, Any], method: Method,
                      scenarios: _Memo | None = None) -> Record:
    """The straightforward evaluation of one town (the reference the cached path is tested
    against)."""
    return _records([inputs], method, scenarios)[0]


def evaluate_inputs(inputs: Mapping[str, Any], method: Method) -> Record:
    """One town's validated inputs (None = missing) -> result record (a fresh copy; cached per
    method)."""
    return evaluate_many([inputs], method)[0]


def evaluate_many(rows: Sequence[Mapping[str, Any]], method: Method) -> list[Record]:
    """Several towns' validated inputs -> result records (fresh copies; cached per method).

    The towns not yet cached are evaluated together (one kernel call); a town whose inputs name
    something outside the method is evaluated without the cache (nothing assumed).
    """
    results, scenarios = _memos(method)
    out: list[Record | None] = [None] * len(rows)
    todo: list[int] = []
    keys: dict[int, tuple[Any, ...]] = {}
    for i, inputs in enumerate(rows):
        if not inputs.keys() <= method.inputs.keys():
            out[i] = evaluate_uncached(inputs, method)
            continue
        keys[i] = tuple(_value_key(inputs.get(n)) for n in method.inputs)
        found = results.get(keys[i])
        if found is None:
            todo.append(i)
        else:
            out[i] = _fresh(found)
    for i, record in zip(todo, _records([rows[i] for i in todo], method, scenarios)):
        frozen = _frozen(record)
        if frozen is not None:
            results.put(keys[i], frozen)
            record = _fresh(frozen)  # the caller owns its copy; the cache keeps the bytes
        out[i] = record
    return [r for r in out if r is not None]


def evaluate_records(records: list[dict[str, Any]], method: Method | None = None, *,
                     source: str = "input", experts: dict[str, Any] | None = None) -> list[Record]:
    """Validate every record (raising InputError with all problems) and evaluate each town."""
    method = method or load_method()
    clean = validate_records(records, method, source=source)
    towns = [rec.pop("town") for rec in clean]
    out = []
    for town, rec, evaluated in zip(towns, clean, evaluate_many(clean, method)):
        result = {"town": town, **evaluated, "inputs": rec}
        if experts and town in experts:
            result["expert"] = experts[town]
        out.append(result)
    return out


def read_csv_records(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def load_expert_judgments(path: str | Path | None = None,
                          method: Method | None = None) -> dict[str, Any]:
    """Expert-recorded scenarios of data/expert_judgments.csv (or ``path``)."""
    from .loaders import load_expert_judgments as load

    return load(Path(path) if path else DATA_DIR / "expert_judgments.csv", method or load_method())
