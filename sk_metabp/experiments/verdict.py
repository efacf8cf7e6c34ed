"""The verdict on a claim of the paper: a pure function of a repeated experiment.

:func:`judge` turns the medians and shares of a repeated experiment into one of
:data:`VERDICTS`. Its thresholds are the module's constants, so that the report
quotes the numbers the rule uses.
"""

from dataclasses import dataclass

import numpy as np

#: The verdicts :func:`judge` gives.
VERDICTS = ("reproduced", "partly", "not reproduced")

#: The directions a claim can take (``Experiment.expected``).
EXPECTATIONS = ("better", "comparable", "diverges")

#: "Better" needs the learned median final J at most this times backprop's.
BETTER_FACTOR = 0.8

#: "Comparable" median final errors lie within this factor of each other.
COMPARABLE_FACTOR = 2.0

#: Shares of solved runs closer than this count as equal.
SHARE_TOLERANCE = 0.1


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` concludes: one of :data:`VERDICTS` and why."""

    verdict: str
    reason: str


def judge(
    expected,
    *,
    J_backprop,
    J_learned,
    solved_backprop,
    solved_learned,
    rose_backprop=0.0,
    rose_learned=0.0,
    better_factor=BETTER_FACTOR,
    comparable_factor=COMPARABLE_FACTOR,
    share_tolerance=SHARE_TOLERANCE,
):
    """Judge a paper's claim from the numbers of a repeated experiment.

    A pure function, so that the rule can be read and tested on its own.

    Parameters
    ----------
    expected : {"better", "comparable", "diverges"}
        The claim's direction: the learned rule ends with a lower error than
        backprop; with about the same error; or the learned rule's error
        rises while backprop's does not and backprop stops short of solving
        the task.
    J_backprop, J_learned : float
        Median final error J of each method.
    solved_backprop, solved_learned : float
        Share of runs, in [0, 1], that classify every training pattern.
    rose_backprop, rose_learned : float, default=0.0
        Share of runs whose error ended above where it started or became
        non-finite (the paper's "diverges").
    better_factor : float, default=BETTER_FACTOR
        "Better" needs the learned median at most this times backprop's.
    comparable_factor : float, default=COMPARABLE_FACTOR
        "Comparable" medians lie within this factor of each other.
    share_tolerance : float, default=SHARE_TOLERANCE
        Shares of solved runs closer than this count as equal.

    Returns
    -------
    Verdict
        ``verdict`` is ``"reproduced"``, ``"partly"`` or ``"not reproduced"``.

    Examples
    --------
    >>> from sk_metabp.experiments import judge
    >>> judge("better", J_backprop=1e-3, J_learned=4e-4,
    ...       solved_backprop=1.0, solved_learned=1.0).verdict
    'reproduced'
    >>> judge("better", J_backprop=1e-3, J_learned=1.1e-3,
    ...       solved_backprop=1.0, solved_learned=1.0).verdict
    'partly'
    """
    if expected not in EXPECTATIONS:
        raise ValueError(f"expected must be one of {EXPECTATIONS}; got {expected!r}.")
    if expected == "diverges":
        learned_rose = rose_learned >= 0.5
        backprop_held = rose_backprop < 0.5
        backprop_stalled = solved_backprop < 0.5
        what = (
            f"learned error rose in {rose_learned:.0%} of runs, backprop's in "
            f"{rose_backprop:.0%}; backprop solved {solved_backprop:.0%}"
        )
        if not learned_rose:
            return Verdict("not reproduced", f"{what}: the learned rule held")
        if not backprop_held:
            return Verdict("partly", f"{what}: both rose")
        if not backprop_stalled:
            return Verdict("partly", f"{what}: backprop did not stall")
        return Verdict("reproduced", what)

    ratio = J_learned / J_backprop if J_backprop > 0 else np.inf
    fewer = solved_learned < solved_backprop - share_tolerance
    same = abs(solved_learned - solved_backprop) <= share_tolerance
    what = (
        f"median J learned/backprop = {ratio:.3g}; solved "
        f"{solved_learned:.0%} vs {solved_backprop:.0%}"
    )
    if expected == "better":
        if ratio <= better_factor and not fewer:
            return Verdict("reproduced", what)
        if ratio <= better_factor:
            return Verdict("partly", f"{what}: lower error, fewer runs solved")
        if ratio <= comparable_factor and not fewer:
            return Verdict("partly", f"{what}: comparable, not better")
        return Verdict("not reproduced", f"{what}: worse than backprop")
    # comparable
    if 1 / comparable_factor <= ratio <= comparable_factor and same:
        return Verdict("reproduced", what)
    if ratio < 1 / comparable_factor and not fewer:
        return Verdict("partly", f"{what}: better than backprop, not comparable")
    if ratio <= comparable_factor:
        return Verdict("partly", f"{what}: solves a different share of runs")
    return Verdict("not reproduced", f"{what}: clearly worse than backprop")
