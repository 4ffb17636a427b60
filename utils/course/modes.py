"""The two modes of the course: full (default) and quick (COURSE_QUICK=1, for CI and tests)."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

QUICK_ENV = "COURSE_QUICK"
OVERRIDES_ENV = "COURSE_OVERRIDES"  # set by the runner when -p overrides a parameter


def is_quick() -> bool:
    """True when COURSE_QUICK is set to 1/true/yes (quick mode), False otherwise (full mode)."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{QUICK_ENV}={value!r}: expected 1/true/yes for quick mode or 0/false/no/unset for full")


def mode() -> str:
    """The current mode's name: 'quick' or 'full'."""
    return "quick" if is_quick() else "full"


def by_mode(full: T, quick: T) -> T:
    """Pick the size for the current mode; the only place a notebook's sizes depend on the mode."""
    return quick if is_quick() else full


def has_overrides() -> bool:
    """True in a notebook that the runner started with overridden parameters (`-p name=value`)."""
    return os.environ.get(OVERRIDES_ENV, "").strip().lower() in ("1", "true", "yes")
