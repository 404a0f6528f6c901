"""Bands: which level a value falls in (upper bound inclusive, lower exclusive), by the kernel."""
from __future__ import annotations

from typing import Any

from . import kernel
from .method import Band


def level_of(value: float | None, bands: tuple[Band, ...]) -> str | None:
    """First band whose upper bound is >= value; None for a missing value."""
    if value is None:
        return None
    pos = int(kernel.positions(value, kernel.band_bounds(bands)))
    if pos == kernel.MISSING:
        return None
    if value > bands[-1].upper:
        raise ValueError(f"value {value} is above every band (the last band must be open-ended)")
    return bands[pos].level


def band_position(value: float | None, bands: tuple[Band, ...]) -> list[dict[str, Any]]:
    """The bands with their lower/upper bounds, marking the one holding ``value``."""
    rows, lower, current = [], None, level_of(value, bands)
    for band in bands:
        upper = None if band.upper == float("inf") else band.upper
        rows.append({"level": band.level, "lower_exclusive": lower, "upper_inclusive": upper,
                     "contains": band.level == current})
        lower = upper
    return rows
