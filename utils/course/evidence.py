"""The one way a notebook states a comparison: the difference, its 95 % interval and the words (COURSE.md, Evidence).

Two arms are measured on the same test items (photos x noise seeds, images, objects, volumes, videos),
optionally after several training seeds each. `compare` returns a `Comparison`: the mean difference
A - B, its interval from a paired bootstrap over the items (`scipy.stats.bootstrap`, BCa), each
training seed's own mean difference, and the verdict in words.

With few items a bootstrap interval is too narrow: measured on synthetic paired data (tests/test_evidence.py),
the BCa interval covers the true difference about 75 % of the time with 3 items and 88 % with 5, not 95 %. So
the interval is widened to Student's t interval of the same per-item differences wherever that is wider: with
3 photos it decides, with a hundred scenes the two agree. The verdict:

- "beats" / "loses to" only when the interval excludes 0 and, with several training seeds, every seed's
  difference has the interval's sign (a training seed that reverses the order is training noise the
  items cannot show);
- otherwise "no measurable difference at this budget".

`Comparison.figures()` gives the `cmp_<name>_*` entries of the results JSON, `Comparison.sentence()`
the sentence a notebook prints.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import numpy as np

from utils.course.checks import finite_in, int_at_least, number_in

BEATS, LOSES, NO_DIFFERENCE = "beats", "loses to", "no measurable difference at this budget"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Comparison:
    """A - B on the same items: the mean difference, its interval, each training seed's difference, the verdict."""

    name: str                      # the results JSON's key: cmp_<name>_diff, ...
    a: str                         # the arms, in words
    b: str
    diff: float                    # mean of A - B over the items (and the training seeds)
    ci_low: float
    ci_high: float
    n: int                         # paired items
    seeds: int                     # training seeds of each arm (1: one run each)
    seed_diffs: tuple[float, ...]  # each training seed's mean difference over the items
    verdict: str                   # BEATS, LOSES or NO_DIFFERENCE
    unit: str = ""
    items: str = "items"
    confidence: float = 0.95

    def figures(self) -> dict[str, float]:
        """The results JSON's entries: cmp_<name>_diff, _ci_low, _ci_high, _n (items) and _seeds."""
        key = f"cmp_{self.name}"
        return {f"{key}_diff": self.diff, f"{key}_ci_low": self.ci_low, f"{key}_ci_high": self.ci_high,
                f"{key}_n": float(self.n), f"{key}_seeds": float(self.seeds)}

    def sentence(self, digits: int = 2) -> str:
        """The comparison in words, e.g. 'residual beats plain: +0.31 dB (95 % interval +0.12 to +0.50 dB; 9 photo x
        noise seeds, 3 training seeds: +0.29, +0.35, +0.30)'."""
        digits = int_at_least(digits, "digits", 0)
        unit = f" {self.unit}" if self.unit else ""

        def signed(x: float) -> str:
            return _signed(x, digits)

        what = f"{self.a} {self.verdict} {self.b}" if self.verdict != NO_DIFFERENCE else \
            f"{self.a} against {self.b}: {NO_DIFFERENCE}"
        spread = "" if self.seeds == 1 else \
            f", {self.seeds} training seeds: {', '.join(signed(d) for d in self.seed_diffs)}"
        return (f"{what}: {signed(self.diff)}{unit} ({self.confidence * 100:g} % interval {signed(self.ci_low)} to "
                f"{signed(self.ci_high)}{unit}; {self.n} {self.items}{spread})")

    def short(self, digits: int = 2) -> str:
        """The comparison for a summary line, e.g. 'residual beats plain (+0.31 dB, 95 % interval +0.12 to +0.50)'
        or 'A against B, no measurable difference (...)'; the items and seeds stay with `sentence`."""
        digits = int_at_least(digits, "digits", 0)
        unit = f" {self.unit}" if self.unit else ""
        figures = (f"{_signed(self.diff, digits)}{unit}, {self.confidence * 100:g} % interval "
                   f"{_signed(self.ci_low, digits)} to {_signed(self.ci_high, digits)}")
        if self.verdict == NO_DIFFERENCE:
            return f"{self.a} against {self.b}, no measurable difference ({figures})"
        return f"{self.a} {self.verdict} {self.b} ({figures})"

    __str__ = sentence


def _signed(x: float, digits: int) -> str:
    """x with its sign and a true minus sign (U+2212), as the course prints differences."""
    return f"{x:+.{digits}f}".replace("-", "\u2212")


def _paired(x: object, name: str) -> np.ndarray:
    """x as a float64 array of (seeds, items), a 1-D x being one seed."""
    try:
        arr = np.asarray(x, np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected numbers, one per item ({err})") from None
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {arr.shape}: expected (items,) or (training seeds, items)")
    return finite_in(np.atleast_2d(arr), name, expected="a finite value for every item")


def bootstrap_seeding(seed: int) -> dict[str, np.random.Generator]:
    """scipy.stats.bootstrap's keyword for a seeded generator: SciPy 1.15 renamed random_state to rng, and the
    course's floor is SciPy 1.13."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    return {"rng": rng} if "rng" in inspect.signature(stats.bootstrap).parameters else {"random_state": rng}


def _bootstrap(a: np.ndarray, b: np.ndarray, confidence: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """The paired BCa interval of mean(a - b) over the items (scipy.stats.bootstrap, resampling items together),
    widened to Student's t interval of the differences where that is wider (few items)."""
    from scipy import stats

    if np.ptp(a - b) == 0.0:          # every item differs by the same amount: no spread to resample
        d = float(np.mean(a - b))
        return d, d
    result = stats.bootstrap((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True,
                             confidence_level=confidence, n_resamples=n_resamples, method="BCa",
                             **bootstrap_seeding(seed))
    low, high = result.confidence_interval
    d = a - b
    half = stats.t.ppf((1 + confidence) / 2, len(d) - 1) * np.std(d, ddof=1) / np.sqrt(len(d))
    return min(float(low), float(np.mean(d) - half)), max(float(high), float(np.mean(d) + half))


def compare(a: object, b: object, name: str, *, labels: tuple[str, str] = ("A", "B"), unit: str = "",
            items: str = "items", higher_is_better: bool = True, confidence: float = 0.95,
            n_resamples: int = 9999, seed: int = 0) -> Comparison:
    """Compare arm A with arm B measured on the same items: per-item values of shape (items,), or
    (training seeds, items) when each arm was trained with several seeds (seed k of A beside seed k of B).

    The interval resamples the items, each item's difference averaged over the training seeds; the spread
    between seeds is shown by `seed_diffs` and can withhold the verdict (module docstring). higher_is_better:
    False for losses, errors and times, where the lower arm "beats". Refuses arms of different shapes, NaN or
    infinite values, fewer than 2 items, and a name that is not a lower-case identifier.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name={name!r}: expected a lower-case identifier (letters, digits, _), the results "
                         "JSON's cmp_<name>_* keys")
    if not (isinstance(labels, tuple) and len(labels) == 2 and all(isinstance(s, str) and s for s in labels)):
        raise ValueError(f"labels={labels!r}: expected two non-empty strings, the arms A and B in words")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise ValueError(f"higher_is_better={higher_is_better!r}: expected True or False")
    confidence = number_in(confidence, "confidence", 0.0, 1.0, low_open=True, high_open=True)
    n_resamples = int_at_least(n_resamples, "n_resamples", 100)
    x, y = _paired(a, "a"), _paired(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a has shape {x.shape[-1] if x.shape[0] == 1 else x.shape} and b "
                         f"{y.shape[-1] if y.shape[0] == 1 else y.shape}: expected the same items (and training "
                         "seeds) in both arms, paired")
    seeds, n = x.shape
    if n < 2:
        raise ValueError(f"a and b have {n} item(s): expected at least 2 paired items to estimate an interval")
    low, high = _bootstrap(x.mean(axis=0), y.mean(axis=0), confidence, n_resamples, seed)
    seed_diffs = tuple(float(d) for d in (x - y).mean(axis=1))
    higher = low > 0 and all(d > 0 for d in seed_diffs)
    lower = high < 0 and all(d < 0 for d in seed_diffs)
    verdict = NO_DIFFERENCE if not (higher or lower) else BEATS if higher == bool(higher_is_better) else LOSES
    return Comparison(name=name, a=labels[0], b=labels[1], diff=float(np.mean(x - y)), ci_low=low, ci_high=high,
                      n=n, seeds=seeds, seed_diffs=seed_diffs, verdict=verdict, unit=unit, items=items,
                      confidence=confidence)
