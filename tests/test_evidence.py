"""The evidence helper (utils.course.evidence): paired bootstrap intervals, the verdict, the results' figures."""

import numpy as np
import pytest
from scipy import stats

from utils.course.evidence import BEATS, LOSES, NO_DIFFERENCE, bootstrap_seeding, compare


def test_the_interval_covers_a_known_difference_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    true_diff, covered, trials = 0.3, 0, 200
    for trial in range(trials):
        base = rng.normal(20.0, 2.0, 25)                     # items differ a lot from each other ...
        a, b = base + true_diff + rng.normal(0, 0.5, 25), base   # ... the arms' difference is what is paired
        c = compare(a, b, "x", n_resamples=1000, seed=trial)
        covered += c.ci_low <= true_diff <= c.ci_high
    assert 0.90 <= covered / trials <= 0.99                   # 95 % nominal; BCa on 25 items is a little short


def test_the_interval_is_scipys_paired_bootstrap_of_the_mean_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 12), rng.normal(0.0, 1.0, 12)
    c = compare(a, b, "x", n_resamples=2000, seed=7)
    ref = stats.bootstrap((a - b,), np.mean, n_resamples=2000, method="BCa",
                          **bootstrap_seeding(7)).confidence_interval
    t = stats.t.interval(0.95, 11, loc=np.mean(a - b), scale=stats.sem(a - b))
    assert c.diff == pytest.approx(np.mean(a - b))
    # the paired bootstrap (same draws, paired on items), widened to Student's t where that is wider
    assert (c.ci_low, c.ci_high) == pytest.approx((min(ref.low, t[0]), max(ref.high, t[1])), rel=0.02)


@pytest.mark.parametrize("n", [3, 5])
def test_few_items_still_cover_at_about_the_nominal_rate(n):
    rng = np.random.default_rng(n)
    covered, trials = 0, 200
    for trial in range(trials):
        base = rng.normal(20.0, 2.0, n)
        c = compare(base + 0.3 + rng.normal(0, 0.5, n), base, "x", n_resamples=500, seed=trial)
        covered += c.ci_low <= 0.3 <= c.ci_high
    assert covered / trials >= 0.92                        # BCa alone: about 0.75 (3 items), 0.88 (5)


def test_identical_arms_are_a_tie_with_a_zero_interval():
    values = [30.1, 28.4, 25.0]
    c = compare(values, values, "same")
    assert (c.diff, c.ci_low, c.ci_high) == (0.0, 0.0, 0.0) and c.verdict == NO_DIFFERENCE
    assert c.sentence() == "A against B: no measurable difference at this budget: +0.00 (95 % interval +0.00 to " \
                           "+0.00; 3 items)"


def test_the_words_follow_the_interval_and_the_direction_of_the_metric():
    rng = np.random.default_rng(2)
    b = rng.normal(25.0, 2.0, 30)
    a = b + 0.5 + rng.normal(0, 0.1, 30)
    assert compare(a, b, "psnr").verdict == BEATS
    assert compare(b, a, "psnr").verdict == LOSES
    assert compare(a, b, "loss", higher_is_better=False).verdict == LOSES     # a higher loss loses
    noisy = b + rng.normal(0, 1.0, 30)                                         # no real difference
    c = compare(noisy, b, "noise")
    assert c.ci_low < 0 < c.ci_high and c.verdict == NO_DIFFERENCE


def test_a_training_seed_that_reverses_the_order_withholds_the_verdict():
    items = np.linspace(20, 30, 20)
    b = np.stack([items, items, items])
    a = b + np.array([[1.0], [0.6], [-0.2]])       # two seeds ahead, one behind: the items alone would say "beats"
    c = compare(a, b, "seeds", labels=("residual", "plain"), unit="dB", items="photos")
    assert c.seeds == 3 and c.seed_diffs == pytest.approx((1.0, 0.6, -0.2))
    assert c.ci_low > 0 and c.verdict == NO_DIFFERENCE
    assert c.sentence() == ("residual against plain: no measurable difference at this budget: +0.47 dB (95 % interval "
                            "+0.47 to +0.47 dB; 20 photos, 3 training seeds: +1.00, +0.60, \u22120.20)")
    agreeing = compare(b + np.array([[1.0], [0.6], [0.2]]), b, "seeds", labels=("residual", "plain"))
    assert agreeing.verdict == BEATS and agreeing.sentence().startswith("residual beats plain: +0.60 (")
    assert c.short() == "residual against plain, no measurable difference (+0.47 dB, 95 % interval +0.47 to +0.47)"
    assert agreeing.short(1) == "residual beats plain (+0.6, 95 % interval +0.6 to +0.6)"
    assert compare(b - 1.0, b, "behind", labels=("A", "B")).short(1) == "A loses to B (\u22121.0, 95 % interval " \
        "\u22121.0 to \u22121.0)"
    with pytest.raises(ValueError, match="digits"):
        c.short(-1)


def test_the_figures_are_the_results_jsons_cmp_entries():
    c = compare([2.0, 3.0, 4.5], [1.0, 2.5, 3.0], "unet_minus_no_skip_miou", n_resamples=500)
    figures = c.figures()
    assert list(figures) == [f"cmp_unet_minus_no_skip_miou_{k}" for k in ("diff", "ci_low", "ci_high", "n", "seeds")]
    assert figures["cmp_unet_minus_no_skip_miou_n"] == 3.0 and figures["cmp_unet_minus_no_skip_miou_seeds"] == 1.0
    assert all(isinstance(v, float) and np.isfinite(v) for v in figures.values())
    assert str(c) == c.sentence()


@pytest.mark.parametrize("a, b, kwargs, message", [
    ([1.0, 2.0, 3.0], [1.0, 2.0], {}, "expected the same items"),
    ([1.0, np.nan], [1.0, 2.0], {}, "NaN or infinite"),
    ([1.0], [2.0], {}, "at least 2 paired items"),
    ([[[1.0, 2.0]]], [[[1.0, 2.0]]], {}, "expected \\(items,\\) or \\(training seeds, items\\)"),
    (["high", "low"], [1.0, 2.0], {}, "expected numbers"),
    ([1.0, 2.0], [1.0, 2.0], {"name": "U-Net"}, "lower-case identifier"),
    ([1.0, 2.0], [1.0, 2.0], {"confidence": 95}, "confidence=95"),
    ([1.0, 2.0], [1.0, 2.0], {"n_resamples": 10}, "n_resamples=10"),
    ([1.0, 2.0], [1.0, 2.0], {"labels": ("A",)}, "two non-empty strings"),
    ([1.0, 2.0], [1.0, 2.0], {"higher_is_better": "yes"}, "True or False"),
])
def test_bad_inputs_are_refused_by_name(a, b, kwargs, message):
    kwargs = {"name": "x", **kwargs}
    with pytest.raises(ValueError, match=message):
        compare(a, b, kwargs.pop("name"), **kwargs)
