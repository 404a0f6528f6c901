"""Robustness of every town's scenario to the modelling choices (issue 9).

``robustness(pipeline, draws=1000, seed=0)`` draws the choices of data/method/uncertainty.csv
(spatial parameters, band shifts, the rule's margin, measurement errors; see ``scoring.draws``) and
pushes every draw through the spatial derivation and the scoring, vectorised over draws:

- what does not change between draws is computed once: the network, its edges grouped per node
  pair, every town's distance to each distinct major line, the towns' sourced and curated inputs;
- a speed, detour or large-city-population draw changes the distances: a multi-source csgraph
  Dijkstra (``min_only``) per distinct (detours[, speeds], selected cities) and metric, 32 of them
  per call as one block-diagonal graph, gives every node's distance to the nearest selected large
  city: the minimum over cities of what ``geo.routing.Routing`` holds, kept as float32 like it (a
  draw that changes only a threshold, a band or an input reuses the search of the draw it was
  copied from);
- thresholds are array compares; indices, levels (the count of shifted band bounds below the
  value), scenario scores and outcomes come from one call of the method kernel (``scoring.kernel``),
  the evaluation ``Pipeline.run`` and the missing-data completions use too.

Row 0 of the draws is at the defaults and is checked, town by town, against ``Pipeline.run()``
(indices, levels, scores and recommendation, exactly); a mismatch raises ``RuntimeError``.

A draw's *outcome* is the set of qualifying scenarios (the recommendation, or the tied scenarios
when there is a tie, as in ``scoring.uncertainty``). Shares: a draw whose outcome holds k scenarios
(a combination or a tie) gives each of them 1/k; a draw with no level at all counts as
"insufficient data". Stability: the share of draws with the default draw's outcome. Sensitivity:
first-order and total Sobol indices (``scoring.sensitivity``) of two scalars per town: agreeing with
the default outcome (0/1), and each scenario's score, from a Saltelli design whose sample A is the
reported draws (n * (choices + 2) evaluations in all).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.agglomeration import SpatialModel
from geo.junctions import Lines
from geo.params import Params, default_params
from geo.results import within

from . import kernel
from .draws import (CHOICES_FILE, Choice, Design, choice_column, design, load_choices,
                    shifted_bounds, with_error)
from .kernel import outcome_label
from .method import Method
from .pipeline import Pipeline
from .sensitivity import split

Progress = Callable[[int, int], None]  # (done, total): percent of the run, total = PROGRESS_TOTAL
PROGRESS_TOTAL = 100
VARIANTS = (("pessimistic", 5), ("realistic", 50), ("optimistic", 95))
DIGITS = 6  # shares, stability
INDEX_DIGITS = 4  # sensitivity indices
BATCH = 32  # key rows searched in one call (a block-diagonal graph); 8-128 all do, 32 is quickest
# evaluated rows held at once: draws are processed in chunks of CHUNK_ROWS // (choices + 2) and
# reduced to counts, so memory does not grow with --draws (about 0.33 MB per row otherwise)
CHUNK_ROWS = 20_000


# -- the spatial part ----------------------------------------------------------------------------

class _Graph:
    """The base network as parallel-edge groups, sources and town nodes, for batched searches.

    ``csr`` is the template: each node pair in both directions (searched as directed, so csgraph
    does not transpose per search), ``perm`` the pair of each stored entry.
    """

    def __init__(self, spatial: SpatialModel, base: Params):
        net = spatial.network(base)
        self.n = net.n_nodes
        self.classes = [c for c, _ in base.speeds]
        src_ids = [c for c in spatial.city_names if c in net.city_node]  # Routing's row order
        self.sources = np.array([net.city_node[c] for c in src_ids], dtype=np.int64)
        statuses = base.large_city_statuses
        self.status_ok = np.array([spatial.city_status[c] in statuses for c in src_ids])
        self.pop = np.array([float(spatial.city_pop[c]) for c in src_ids])
        self.routable = np.array([t in net.town_node for t in spatial.town_ids])
        self.cols = np.array([net.town_node[t] for t in spatial.town_ids if t in net.town_node],
                             dtype=np.int64)
        order, pa, pb, first = _edge_pairs(np.asarray(net.u), np.asarray(net.v))
        self.km = np.asarray(net.km, dtype=float)[order]
        self.factor = np.asarray(net.factor, dtype=float)[order]  # published lengths (else nan)
        self.cls = np.array([self.classes.index(c) for c in net.cls[order]], dtype=np.int64)
        self.starts = np.flatnonzero(first)
        self.csr, self.perm = _symmetric(self.n, pa[first], pb[first])

    def weights(self, detours: np.ndarray, speeds: np.ndarray | None) -> np.ndarray:
        """Edge weights per key row as ``geo.routing.edge_weights`` + ``compact`` make them:
        (keys, pairs).

        Road km = geodesic km x detour; minutes = road km / speed x 60 (when ``speeds`` is given);
        the lightest of parallel edges; at least 1e-9 (csgraph reads zeros as missing edges).
        """
        published = np.isfinite(self.factor)[None, :]
        w = self.km[None, :] * np.where(published, self.factor[None, :], detours[:, self.cls])
        if speeds is not None:
            w = w / speeds[:, self.cls] * 60.0
        return np.maximum(np.minimum.reduceat(w, self.starts, axis=1), 1e-9)

    def nearest(self, w: np.ndarray, selected: np.ndarray) -> np.ndarray:
        """Float32 distance from each routable town to the nearest selected source, per key row.

        The key rows' graphs are laid side by side as one block-diagonal graph and searched by one
        multi-source Dijkstra (``min_only``): blocks are disconnected, so each node's nearest source
        lies in its own block and the result is the per-key search's, with csgraph's fixed cost per
        call paid once per batch.

        Parameters
        ----------
        w : (keys, pairs) edge weights (``weights``).
        selected : (keys, sources) bool, the large cities that count.
        """
        k, n, nnz = len(w), self.n, len(self.perm)
        rows, cols = np.nonzero(selected)
        if len(rows) == 0:
            return np.full((k, len(self.cols)), np.inf, dtype=np.float32)
        block = np.arange(k)[:, None]
        indices = (self.csr.indices[None, :] + n * block).reshape(-1)
        indptr = np.append((self.csr.indptr[None, :-1] + nnz * block).reshape(-1), k * nnz)
        data = w[:, self.perm].reshape(-1)
        graph = csr_matrix((data, indices.astype(np.int32), indptr.astype(np.int32)),
                           shape=(k * n, k * n))
        d = dijkstra(graph, directed=True, indices=rows * n + self.sources[cols], min_only=True)
        return d.reshape(k, n)[:, self.cols].astype(np.float32)


def _edge_pairs(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """Edges without loops sorted by node pair (low, high): (edge order, low, high, first of
    its pair)."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    keep = np.flatnonzero(a != b)
    order = keep[np.lexsort((b[keep], a[keep]))]
    pa, pb = a[order], b[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (pa[1:] != pa[:-1]) | (pb[1:] != pb[:-1])
    return order, pa, pb, first


def _symmetric(n: int, pa: np.ndarray, pb: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """A CSR graph holding each pair in both directions (searched as directed: no transpose per
    search), and the pair index of each of its stored entries (``data = pair_weights[perm]``)."""
    ids = np.arange(1, len(pa) + 1)
    ends = (np.concatenate([pa, pb]), np.concatenate([pb, pa]))
    template = csr_matrix((np.concatenate([ids, ids]), ends), shape=(n, n))
    template.sort_indices()
    return template.astype(float), template.data.astype(np.int64) - 1


class _Junctions:
    """Per town, the sorted distances (km) to each distinct major line identity of the base
    types."""

    def __init__(self, lines: Lines, base: Params):
        types = set(base.corridor_line_types)
        ids = [lines.identity(j, base.group_named_corridors) for j in range(len(lines.ids))]
        groups: dict[str, list[int]] = {}
        for j, ident in enumerate(ids):
            if str(lines.types[j]) in types:
                groups.setdefault(ident, []).append(j)
        self.sorted = [np.sort([lines.dist[t, js].min() for js in groups.values()])
                       for t in range(lines.dist.shape[0])]

    def flags(self, radius: np.ndarray, min_lines: np.ndarray) -> np.ndarray:
        """0/100 per (row, town): at least ``min_lines`` distinct identities within ``radius``."""
        counts = np.stack([np.searchsorted(s, radius, side="right") for s in self.sorted], axis=1)
        return np.where(counts >= min_lines[:, None], 100.0, 0.0)


# -- the model over draws ------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcomes:
    """Per evaluated row and town: indices, level positions (-1 = missing), scores, outcome mask."""

    indices: dict[str, kernel.FloatArray]  # code -> (rows, towns) float, NaN = missing
    levels: dict[str, kernel.IntArray]  # levelled code -> (rows, towns) int
    scores: kernel.ScoreArray  # (rows, towns, scenarios)
    mask: kernel.IntArray  # (rows, towns) bit i = i-th scenario qualifies; 0 = insufficient data


VARIED_RULES = ("in_fua", "near_large_city", "corridor_junction")  # the rules the draws vary


class DrawModel:
    """Everything fixed between draws, and ``evaluate(rows)`` for a matrix of choice values."""

    def __init__(self, pipeline: Pipeline, choices: tuple[Choice, ...], *,
                 base: Params | None = None):
        base = base or default_params()
        if base.planned_roads:
            raise ValueError("robustness runs on parameters without planned roads")
        self.base, self.choices, self.method = base, choices, pipeline.method
        self.atlas = pipeline.run(base)
        self.graph = _Graph(pipeline.spatial, base)
        self.junctions = _Junctions(pipeline.spatial.lines, base)
        self.towns = [(t["id"], t["town"]) for t in self.atlas["towns"]]
        self.inputs = {name: np.array([np.nan if t["inputs"][name] is None else t["inputs"][name]
                                       for t in self.atlas["towns"]])
                       for name in self.method.inputs}

    def column(self, rows: np.ndarray, kind: str, target: str, default: float) -> np.ndarray:
        """The values of the choice of ``kind`` on ``target`` per row, else ``default`` in each."""
        return choice_column(self.choices, rows, kind, target, default)

    def evaluate(self, rows: np.ndarray, progress: Progress | None = None) -> Outcomes:
        """Derive and score every town for each row of choice values (columns: ``choices``)."""
        values = self._inputs(rows) | self._derived(rows, progress)
        bounds = {code: self._bounds(rows, code) for code in self.method.levelled}
        margin = self.column(rows, "rule margin", "recommend_margin", kernel.margin_of(self.method))
        ev = kernel.evaluate(values, self.method, bounds=bounds, margin=margin[:, None])
        if progress:
            progress(95, PROGRESS_TOTAL)
        return Outcomes(ev.indices, ev.levels, ev.scores, ev.mask)

    # -- steps ----------------------------------------------------------------------------------
    def _spatial(self, rows: np.ndarray, name: str) -> np.ndarray:
        return self.column(rows, "spatial param", name, self.base[name])

    def _derived(self, rows: np.ndarray, progress: Progress | None) -> dict[str, Any]:
        """The spatial rules the draws vary, per (row, town), under their input names."""
        by_rule = self._by_rule(rows, progress)
        return {name: by_rule[s.derived_by] for name, s in self.method.inputs.items()
                if s.role == "derived" and s.derived_by in VARIED_RULES}

    def _by_rule(self, rows: np.ndarray, progress: Progress | None) -> dict[str, Any]:
        g = self.graph
        detours = np.column_stack([self._spatial(rows, f"detour_{c}") for c in g.classes])
        speeds = np.column_stack([self._spatial(rows, f"speed_{c}") for c in g.classes])
        min_pop = self._spatial(rows, "large_city_min_pop")[:, None]
        selected = g.status_ok[None, :] & (g.pop[None, :] >= min_pop)
        km = _distances(g, detours, None, selected, progress, 0)
        minutes = _distances(g, detours, speeds, selected, progress, 1)
        out = {}
        for name, dist, thr in (("near_large_city", km, "near_km"),
                                ("in_fua", minutes, "fua_minutes")):
            flag = np.full((len(rows), len(self.towns)), np.nan)
            inside = within(dist.astype(float), self._spatial(rows, thr)[:, None])
            flag[:, g.routable] = np.where(inside, 100.0, 0.0)
            out[name] = flag
        out["corridor_junction"] = self.junctions.flags(self._spatial(rows, "corridor_km"),
                                                        self._spatial(rows, "corridor_min_lines"))
        return out

    def _inputs(self, rows: np.ndarray) -> dict[str, Any]:
        """Sourced and curated inputs: (1, towns), or (rows, towns) with a measurement error
        (clipped to the input's range)."""
        out = {}
        errors = {c.target: i for i, c in enumerate(self.choices) if c.kind == "measurement error"}
        for name, base in self.inputs.items():
            spec = self.method.inputs[name]
            if spec.role == "derived" and spec.derived_by in VARIED_RULES:
                continue  # drawn by _derived; other derived inputs (tourism) stay at the default
            if name not in errors:
                out[name] = base[None, :]
                continue
            out[name] = with_error(self.method, name, base, rows[:, errors[name]])
        return out

    def _bounds(self, rows: np.ndarray, code: str) -> np.ndarray:
        """(rows, 1, bands - 1) upper bounds of ``code``'s bands, moved by the row's band shift."""
        return shifted_bounds(self.method, self.choices, rows, code)


def _distances(g: _Graph, detours: np.ndarray, speeds: np.ndarray | None, selected: np.ndarray,
               progress: Progress | None, stage: int) -> np.ndarray:
    """(rows, routable towns) float32 distance to the nearest selected city, one search per
    distinct key."""
    if selected.shape[1] > 52:
        raise ValueError("at most 52 candidate large cities (their selection is a key exact in "
                         "float64)")
    code = selected.astype(np.int64) @ (1 << np.arange(selected.shape[1], dtype=np.int64))
    parts = [detours, code[:, None]] if speeds is None else [detours, speeds, code[:, None]]
    keys, inverse = np.unique(np.hstack(parts), axis=0, return_inverse=True)
    c = detours.shape[1]
    det, spd = keys[:, :c], None if speeds is None else keys[:, c:2 * c]
    sel = (keys[:, -1:].astype(np.int64) >> np.arange(selected.shape[1], dtype=np.int64)) & 1 == 1
    w = g.weights(det, spd)
    out = np.empty((len(keys), len(g.cols)), dtype=np.float32)
    for start in range(0, len(keys), BATCH):
        stop = min(start + BATCH, len(keys))
        out[start:stop] = g.nearest(w[start:stop], sel[start:stop])
        if progress:
            progress(stage * 45 + stop * 45 // len(keys), PROGRESS_TOTAL)
    return out[inverse.reshape(-1)]


# -- the default check ---------------------------------------------------------------------------

def default_mismatches(out: Outcomes, atlas: dict[str, Any], method: Method,
                       row: int = 0) -> list[str]:
    """Differences between evaluated ``row`` and the pipeline's atlas, town by town ([] = equal).

    Compares every indicator value (exactly; None = NaN), every level, every scenario score and the
    outcome (the recommendation, or the tied scenarios).
    """
    problems = []
    scen = list(method.rules)
    for t, town in enumerate(atlas["towns"]):
        for code, value in town["indices"].items():
            got = out.indices[code][min(row, len(out.indices[code]) - 1), t]
            if (value is None) != bool(np.isnan(got)) or value is not None and got != value:
                problems.append(f"{town['town']}: {code} {got!r} != pipeline {value!r}")
        for code, level in town["levels"].items():
            pos = int(np.broadcast_to(out.levels[code], out.mask.shape)[row, t])
            if kernel.level_name(code, pos, method) != level:
                problems.append(f"{town['town']}: level of {code} position {pos} "
                                f"!= pipeline {level}")
        s = town["scenario"]
        scores = dict(zip(scen, out.scores[row, t].tolist()))
        if scores != s["scores"]:
            problems.append(f"{town['town']}: scores {scores} != pipeline {s['scores']}")
        got = kernel.members(int(out.mask[row, t]), method)
        if got != (s["tied"] if s["tie"] else sorted(s["recommended"], key=scen.index)):
            problems.append(f"{town['town']}: outcome {got} != pipeline {s['recommended']} "
                            f"(tied {s['tied']})")
    return problems


# -- summaries -----------------------------------------------------------------------------------

class _Counts:
    """What the reports need of the draws, reduced chunk by chunk (memory independent of the
    number of draws): per town the outcome counts and each scenario's score counts over sample A,
    and exact integer sums for the Sobol estimators (scoring.sensitivity) of agreeing with the
    default outcome and of each score."""

    def __init__(self, n: int, d: int, default: np.ndarray, method: Method):
        self.n, self.d, self.default, self.method = n, d, default, method
        towns, scen = len(default), len(method.rules)
        self.outcomes = np.zeros((towns, 1 << scen), dtype=np.int64)
        self.scores: dict[int, np.ndarray] = {}  # score -> (towns, scenarios) count over sample A
        self.agree = _SobolSums(d, (towns,))
        self.score = _SobolSums(d, (towns, scen))

    def add(self, out: Outcomes, m: int) -> None:
        """Outcomes of the stacked design of ``m`` draws (a, b, ab_1..ab_d)."""
        a = out.mask[:m]
        for t in range(a.shape[1]):
            self.outcomes[t] += np.bincount(a[:, t], minlength=self.outcomes.shape[1])
        for v in np.unique(out.scores[:m]).tolist():
            hit = (out.scores[:m] == v).sum(axis=0)
            self.scores[v] = self.scores.get(v, 0) + hit
        self.agree.add((out.mask == self.default[None, :]).astype(np.int64), m)
        self.score.add(out.scores.astype(np.int64), m)

    def shares(self, t: int) -> dict[str, Any]:
        """Scenario -> mean over draws of 1/k for each of the k scenarios of a draw's outcome."""
        counts = self.outcomes[t]
        masks = np.arange(len(counts))
        bits = (masks[:, None] >> np.arange(len(self.method.rules))) & 1
        k = bits.sum(axis=1)
        part = (counts / self.n)[:, None] * bits / np.where(k > 0, k, 1)[:, None]
        out = {s: round(float(part[:, i].sum()), DIGITS) for i, s in enumerate(self.method.rules)}
        none = float(counts[0] / self.n)
        return out | ({"insufficient data": round(none, DIGITS)} if none else {})

    def outcome_shares(self, t: int) -> dict[str, Any]:
        """Outcome label -> share of draws, most frequent first (ties: smaller mask first)."""
        counts = self.outcomes[t]
        seen = np.flatnonzero(counts)
        order = sorted(seen.tolist(), key=lambda v: (-counts[v], v))
        return {outcome_label(int(v), self.method): round(counts[v] / self.n, DIGITS)
                for v in order}

    def variants(self, t: int) -> dict[str, Any]:
        """Each scenario's score at the 5th, 50th and 95th percentile of the draws (numpy's
        inverted CDF, from the counts), and what they recommend."""
        values = np.array(sorted(self.scores))
        cum = np.cumsum(np.stack([self.scores[v][t] for v in values]), axis=0)  # (values, scen)
        scen, out = list(self.method.rules), {}
        for name, q in VARIANTS:
            # the rank numpy takes for n values, then the value of that rank
            rank = int(np.percentile(np.arange(self.n), q, method="inverted_cdf"))
            pct = values[np.argmax(cum > rank, axis=0)]
            row = {s: int(v) for s, v in zip(scen, pct)}
            mask = int(kernel.qualifying_mask(pct, kernel.margin_of(self.method)))
            outcome = outcome_label(mask, self.method)
            out[name] = {"percentile": q, "scores": row, "outcome": outcome}
        return out


class _SobolSums:
    """Integer sums from which scoring.sensitivity.sobol_indices' estimators follow exactly."""

    def __init__(self, d: int, shape: tuple[int, ...]):
        self.n, self.d = 0, d
        self.total = np.zeros(shape, dtype=np.int64)  # all rows: the centring constant
        self.ab_sum = np.zeros(shape, dtype=np.int64)  # rows of A and B: the variance
        self.ab_sq = np.zeros(shape, dtype=np.int64)
        self.cross = np.zeros((d, *shape), dtype=np.int64)  # f(B) (f(AB_i) - f(A))
        self.diff = np.zeros((d, *shape), dtype=np.int64)  # f(AB_i) - f(A)
        self.sq = np.zeros((d, *shape), dtype=np.int64)  # (f(A) - f(AB_i))^2

    def add(self, y: np.ndarray, m: int) -> None:
        fa, fb, fab = split(y, m, self.d)
        self.n += m
        self.total += y.sum(axis=0)
        self.ab_sum += fa.sum(axis=0) + fb.sum(axis=0)
        self.ab_sq += (fa * fa).sum(axis=0) + (fb * fb).sum(axis=0)
        delta = fab - fa[None]
        self.cross += (fb[None] * delta).sum(axis=1)
        self.diff += delta.sum(axis=1)
        self.sq += (delta * delta).sum(axis=1)

    def indices(self) -> tuple[np.ndarray, np.ndarray]:
        """(first, total) per choice and output, as ``sobol_indices`` on all the rows."""
        n = self.n
        centre = self.total / (n * (self.d + 2))
        var = (2 * n * self.ab_sq - self.ab_sum ** 2) / (2 * n) ** 2  # exact integers, then / n^2
        first_num = (self.cross - centre[None] * self.diff) / n
        total_num = 0.5 * self.sq / n
        safe = np.where(var > 0, var, 1.0)
        return (np.where(var > 0, first_num / safe, 0.0),
                np.where(var > 0, total_num / safe, 0.0))


def _ranked(values: np.ndarray, choices: tuple[Choice, ...]) -> dict[str, Any]:
    """Choice -> index rounded, dropping those that round to 0, largest first (file order on
    ties)."""
    pairs = [(c.name, round(float(v), INDEX_DIGITS)) for c, v in zip(choices, values)]
    return dict(sorted([p for p in pairs if p[1] != 0], key=lambda p: -p[1]))


def _town_record(t: int, ident: tuple[str, str], c: _Counts, sens: dict[str, Any],
                 choices: tuple[Choice, ...], method: Method) -> dict[str, Any]:
    shares = c.shares(t)
    scen_shares = {s: shares[s] for s in method.rules}
    outcomes = c.outcome_shares(t)
    default = int(c.default[t])
    return {
        "town": ident[1], "id": ident[0],
        "default": outcome_label(default, method),
        "shares": shares,
        "modal": max(scen_shares, key=lambda s: (scen_shares[s], -list(method.rules).index(s))),
        "modal_outcome": next(iter(outcomes)),
        "outcomes": outcomes,
        "stability": round(float(c.outcomes[t, default] / c.n), DIGITS),
        "drivers": _ranked(sens["total"][:, t], choices),
        "drivers_first_order": _ranked(sens["first"][:, t], choices),
        "score_drivers": {s: _ranked(sens["score_total"][:, t, i], choices)
                          for i, s in enumerate(method.rules)},
        "variants": c.variants(t),
    }


# -- the public entry ----------------------------------------------------------------------------

def robustness(pipeline: Pipeline, draws: int = 1000, seed: int = 0,
               progress: Progress | None = None, *,
               choices_file: str | Path = CHOICES_FILE) -> dict[str, Any]:
    """Scenario shares, stability, variants and drivers of every town under the uncertain choices.

    Parameters
    ----------
    pipeline : scoring.pipeline.Pipeline
        Sources and the spatial model; the draws vary the default parameters.
    draws : int
        Draws reported (sample A of the design; row 0 at the defaults). The sensitivity adds
        sample B and one re-draw of A per choice: ``draws * (choices + 2)`` evaluations in all.
    seed : int
        Seed of the draws; the same seed gives the same result.
    progress : callable (done, total), optional
        Called as the run advances (``total`` = PROGRESS_TOTAL), for a progress bar.
    choices_file : path of the uncertain choices (data/method/uncertainty.csv).

    Returns
    -------
    dict
        ``draws``, ``seed``, ``evaluations``, ``choices`` (the file's rows), ``conventions`` (in
        words), ``check`` and ``towns``: one JSON-ready record per town with ``town``, ``id``,
        ``default`` (outcome at the defaults), ``shares`` (scenario -> fraction), ``modal``,
        ``modal_outcome``, ``outcomes`` (label -> fraction), ``stability``, ``drivers`` (choice ->
        total index of agreeing with the default), ``drivers_first_order``, ``score_drivers``
        (scenario -> choice -> total index of its score) and ``variants`` (pessimistic / realistic /
        optimistic scores).

    Raises
    ------
    RuntimeError
        When draw 0 (the defaults) differs from ``Pipeline.run()`` for any town.
    """
    method = pipeline.method
    choices = load_choices(method, choices_file)
    model = DrawModel(pipeline, choices)
    plan: Design = design(choices, draws, seed)
    step = max(1, CHUNK_ROWS // (len(choices) + 2))
    counts: _Counts | None = None
    for start in range(0, draws, step):
        stop = min(draws, start + step)
        out = model.evaluate(Design(plan.a[start:stop], plan.b[start:stop]).stacked(),
                             _part(progress, start, stop, draws))
        if counts is None:  # the first chunk holds draw 0, at the defaults
            problems = default_mismatches(out, model.atlas, method)
            if problems:
                raise RuntimeError("draw 0 differs from Pipeline.run(): " + "; ".join(problems))
            counts = _Counts(draws, len(choices), out.mask[0].copy(), method)
        counts.add(out, stop - start)
        del out
    assert counts is not None  # draws >= 2 (design checks it)
    first, total = counts.agree.indices()
    sens = {"first": first, "total": total, "score_total": counts.score.indices()[1]}
    towns = [_town_record(t, ident, counts, sens, choices, method)
             for t, ident in enumerate(model.towns)]
    if progress:
        progress(PROGRESS_TOTAL, PROGRESS_TOTAL)
    return {"draws": draws, "seed": seed, "evaluations": draws * (len(choices) + 2),
            "choices": [c.as_dict() for c in choices], "conventions": CONVENTIONS,
            "check": f"draw 0 (the defaults) equals Pipeline.run() for all {len(towns)} towns",
            "towns": towns}


def _part(progress: Progress | None, start: int, stop: int, draws: int) -> Progress | None:
    """Progress of one chunk of draws as progress of the whole run (below its final 100)."""
    if progress is None:
        return None
    share = PROGRESS_TOTAL - 1

    def report(done: int, total: int) -> None:
        progress(min((start * total + done * (stop - start)) * share // (draws * total), share),
                 PROGRESS_TOTAL)
    return report


CONVENTIONS = {
    "outcome": "the qualifying scenarios of a draw: the recommendation, or every tied scenario "
               "on a tie",
    "shares": "a draw whose outcome holds k scenarios (a combination or a tie) gives each 1/k",
    "stability": "share of the draws whose outcome equals the outcome at the default choices "
                 "(draw 0)",
    "variants": "pessimistic / realistic / optimistic: every scenario's score at the 5th / 50th / "
                "95th percentile of the draws (inverted CDF, an attained score); outcome by the "
                "default rule",
    "drivers": "total Sobol index (Jansen) of agreeing with the default outcome; first order: "
               "Saltelli 2010; Saltelli design with sample A = the draws; indices below 0.00005 "
               "omitted; estimates carry sampling noise (a value slightly above 1 or a small "
               "first-order value of a choice without effect is noise; control_dummy, which "
               "changes nothing, gets exactly 0)",
    "measurement error": "one relative error per input and draw, applied to every town holding "
                         "the input (each town's results depend only on its own inputs, so the "
                         "per-town figures are those of independent errors)",
}


def text_report(result: dict[str, Any]) -> str:
    """A table: per town the default outcome, the modal outcome, stability and the top three
    drivers."""
    lines = [f"{result['draws']} draws, seed {result['seed']}, {len(result['choices'])} uncertain "
             f"choices ({result['evaluations']} evaluations); {result['check']}",
             f"{'town':12} {'stability':>9}  {'default':42} {'modal outcome':42} "
             "top drivers (total index)"]
    for t in result["towns"]:
        drivers = ", ".join(f"{k} {v:.2f}" for k, v in list(t["drivers"].items())[:3]) or "none"
        lines.append(f"{t['town']:12} {t['stability']:9.3f}  {t['default']:42} "
                     f"{t['modal_outcome']:42} {drivers}")
    lines.append("")
    lines += [f"{k}: {v}" for k, v in result["conventions"].items()]
    return "\n".join(lines)
