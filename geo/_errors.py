"""Named errors of the spatial derivation."""
from __future__ import annotations


class ParamError(ValueError):
    """Invalid spatial parameters; ``field_errors`` maps each parameter to its message (English),
    ``reasons`` each to what is wrong, for a page that words it in another language: ``number``
    (not a number), ``blank`` (no value), ``whole`` (not a whole number), ``range`` (outside the
    allowed range),
    ``empty`` (a set with nothing chosen), ``choice`` (not one of the choices), ``unknown`` (no
    such parameter), ``roads`` (a planned road) or ``other``."""

    def __init__(self, field_errors: dict[str, str], reasons: dict[str, str] | None = None):
        self.field_errors = dict(field_errors)
        self.reasons = {k: (reasons or {}).get(k, "other") for k in self.field_errors}
        lines = (f"  - {k}: {v}" for k, v in self.field_errors.items())
        super().__init__("Invalid parameter(s):\n" + "\n".join(lines))


class NetworkImportError(ValueError):
    """A road network file that cannot be imported (corrupt, empty, no roads, no CRS, bad
    columns)."""
