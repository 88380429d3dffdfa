"""Binomial arithmetic shared by the judges: Wilson intervals and exact binomial tests.

Both judges count successes among independent trials (a classifier's correct calls, a rater's
preferences), so their uncertainty is binomial. Exact tails are summed in log space with
`math.lgamma`, so no statistics package is needed and large counts do not overflow.
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (better than the normal approximation near 0 or 1
    and for small samples). `(0, 1)` when there are no trials: nothing is known."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_pmf(k: int, n: int, p: float) -> float:
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_choose + k * math.log(p) + (n - k) * math.log1p(-p)


def _log_sum(logs: list[float]) -> float:
    if not logs:
        return -math.inf
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs))


def p_at_least(successes: int, trials: int, p: float = 0.5) -> float:
    """One-sided exact p-value P(X >= successes) for X ~ Binomial(trials, p)."""
    if trials <= 0 or successes <= 0:
        return 1.0
    return min(1.0, math.exp(_log_sum([_log_pmf(k, trials, p) for k in range(successes, trials + 1)])))


def p_two_sided(successes: int, trials: int) -> float:
    """Two-sided exact binomial test against 1/2 (symmetric, so twice the smaller tail)."""
    if trials <= 0:
        return 1.0
    smaller_tail = p_at_least(max(successes, trials - successes), trials, 0.5)
    return min(1.0, 2 * smaller_tail)
