"""Named error types. Each carries every problem found, not just the first."""
from __future__ import annotations


class _CollectedError(ValueError):
    """A ValueError that lists all problems found in one validation pass."""

    def __init__(self, problems: list[str], *, heading: str):
        self.problems = list(problems)
        super().__init__(heading + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class MethodError(_CollectedError):
    """The method definition files (data/method/) are invalid."""

    def __init__(self, problems: list[str]):
        heading = f"Invalid method definition ({len(problems)} problem(s)):"
        super().__init__(problems, heading=heading)


class InputError(_CollectedError):
    """Town input data are invalid."""

    def __init__(self, problems: list[str], *, source: str = "input"):
        heading = f"Invalid input in {source} ({len(problems)} problem(s)):"
        super().__init__(problems, heading=heading)
