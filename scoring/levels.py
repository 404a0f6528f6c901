"""Bands: which level a value falls in (upper bound inclusive, lower exclusive)."""
from __future__ import annotations

from .method import Band


def level_of(value: float | None, bands: tuple[Band, ...]) -> str | None:
    """First band whose upper bound is >= value; None for a missing value."""
    if value is None:
        return None
    for band in bands:
        if value <= band.upper:
            return band.level
    raise ValueError(f"value {value} is above every band (the last band must be open-ended)")


def band_position(value: float | None, bands: tuple[Band, ...]) -> list[dict]:
    """The bands with their lower/upper bounds, marking the one holding ``value``."""
    rows, lower, current = [], None, level_of(value, bands)
    for band in bands:
        upper = None if band.upper == float("inf") else band.upper
        rows.append({"level": band.level, "lower_exclusive": lower, "upper_inclusive": upper,
                     "contains": band.level == current})
        lower = upper
    return rows
