"""The two modes of the course: full (default) and quick (COURSE_QUICK=1, for CI and tests)."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

QUICK_ENV = "COURSE_QUICK"
OVERRIDES_ENV = "COURSE_OVERRIDES"  # set by the runner when -p overrides a parameter


def _env_flag(name: str, on: str, off: str) -> bool:
    """An environment variable read as a switch: 1/true/yes, or 0/false/no/unset; anything else is a mistake."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{name}={value!r}: expected 1/true/yes for {on} or 0/false/no/unset for {off}")


def is_quick() -> bool:
    """True when COURSE_QUICK is set to 1/true/yes (quick mode), False otherwise (full mode)."""
    return _env_flag(QUICK_ENV, "quick mode", "full")


def mode() -> str:
    """The current mode's name: 'quick' or 'full'."""
    return "quick" if is_quick() else "full"


def by_mode(full: T, quick: T) -> T:
    """Pick the size for the current mode; the only place a notebook's sizes depend on the mode."""
    return quick if is_quick() else full


def has_overrides() -> bool:
    """True in a notebook that the runner started with overridden parameters (`-p name=value`)."""
    return _env_flag(OVERRIDES_ENV, "a run with overridden parameters", "a run with the defaults")
