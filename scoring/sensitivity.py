"""First-order and total Sobol indices from a Saltelli design (no second order).

With ``n`` rows of ``f(A)``, ``f(B)`` and, per choice ``i``, ``f(A_B^i)`` (A with column i from B),
the estimators are those of SALib's ``sobol.analyze`` with ``calc_second_order=False``:

- first order (Saltelli et al. 2010): ``S_i = mean(f(B) * (f(A_B^i) - f(A))) / V``
- total (Jansen 1999): ``ST_i = mean((f(A) - f(A_B^i))^2) / (2 V)``

with ``V`` the variance (ddof 0) of ``f(A)`` and ``f(B)`` together, the outputs first centred on
the mean of all rows (as SALib does; the first-order estimator's noise grows with the mean). A test
checks both against ``SALib.analyze.sobol`` on the same design. A choice that changes nothing gives
``f(A_B^i) == f(A)`` and so exactly 0 for both; an output that never varies (V = 0) gets 0 for every
choice. The first-order estimate carries sampling noise (it may be slightly negative); the dummy
choice of uncertainty.csv shows its size.
"""
from __future__ import annotations

import numpy as np


def split(y: np.ndarray, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outputs of the stacked design (a, b, ab_1..ab_d; axis 0) -> f(A), f(B), f(AB) (d, n, ...)."""
    if y.shape[0] != n * (d + 2):
        raise ValueError(f"expected {n * (d + 2)} rows (n * (choices + 2)), got {y.shape[0]}")
    return y[:n], y[n:2 * n], y[2 * n:].reshape(d, n, *y.shape[1:])


def sobol_indices(y: np.ndarray, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices per choice for every output column.

    Parameters
    ----------
    y : (n * (d + 2), ...) outputs of the stacked design (``scoring.draws.Design.stacked``).
    n, d : rows per sample and number of choices.

    Returns
    -------
    (first, total), each (d, ...): one index per choice and output column.
    """
    y = np.asarray(y, dtype=float)
    y = y - y.mean(axis=0)  # centred on every output, as SALib does: less noise in S_i
    fa, fb, fab = split(y, n, d)
    var = np.concatenate([fa, fb]).var(axis=0)
    first_num = (fb[None] * (fab - fa[None])).mean(axis=1)
    total_num = 0.5 * ((fa[None] - fab) ** 2).mean(axis=1)
    safe = np.where(var > 0, var, 1.0)
    first = np.where(var > 0, first_num / safe, 0.0)
    total = np.where(var > 0, total_num / safe, 0.0)
    return first, total
