"""The figures the issue's closing note asks for, counted while the security tests run.

One module imported by the tests and by conftest.py (which prints them at the end of the run).
"""

from __future__ import annotations

COUNTS: dict[str, int] = {}


def count(name: str, n: int = 1) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n
