"""Named errors of the spatial derivation."""
from __future__ import annotations


class ParamError(ValueError):
    """Invalid spatial parameters; ``field_errors`` maps each parameter to its message."""

    def __init__(self, field_errors: dict[str, str]):
        self.field_errors = dict(field_errors)
        lines = (f"  - {k}: {v}" for k, v in self.field_errors.items())
        super().__init__("Invalid parameter(s):\n" + "\n".join(lines))


class NetworkImportError(ValueError):
    """A road network file that cannot be imported (corrupt, empty, no roads, no CRS, bad
    columns)."""
