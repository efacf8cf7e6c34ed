"""The reproduction as text: a terminal table and a markdown report.

Every number the report states about the method (the verdict's thresholds, the
bound on a learned change, the paper's timings) is read from the code that uses
it, so that the report cannot drift from it.
"""

import numpy as np

from .catalogue import PAPER_TIMES
from .verdict import BETTER_FACTOR, COMPARABLE_FACTOR


def _fmt_J(med, q1, q3):
    if not np.isfinite(med):
        return "n/a"
    return f"{med:.2e} [{q1:.2e}, {q3:.2e}]"


def _fmt_share(x):
    return "n/a" if not np.isfinite(x) else f"{x:.0%}"


def summary_table(summary):
    """The summary's main columns as rows of strings (a header row first).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``Reproduction.summary``.

    Returns
    -------
    rows : list of list of str
    """
    header = [
        "experiment",
        "final J backprop: median [q1, q3]",
        "final J learned: median [q1, q3]",
        "solved bp / learned",
        "error rose bp / learned",
        "test acc bp / learned",
        "time bp / learned (ratio)",
        "verdict",
    ]
    rows = [header]
    for _, r in summary.iterrows():
        rows.append(
            [
                f"{r['experiment']} {r['title']}",
                _fmt_J(r["J_backprop"], r["J_backprop_q1"], r["J_backprop_q3"]),
                _fmt_J(r["J_learned"], r["J_learned_q1"], r["J_learned_q3"]),
                f"{_fmt_share(r['solved_backprop'])} / "
                f"{_fmt_share(r['solved_learned'])}",
                f"{_fmt_share(r['rose_backprop'])} / {_fmt_share(r['rose_learned'])}",
                f"{_fmt_share(r['test_accuracy_backprop'])} / "
                f"{_fmt_share(r['test_accuracy_learned'])}",
                f"{r['time_backprop_s']:.2f} s / {r['time_learned_s']:.2f} s "
                f"({r['time_ratio']:.1f}x)",
                r["verdict"],
            ]
        )
    return rows


def format_summary(summary):
    """The summary table as aligned plain text, for a terminal."""
    rows = summary_table(summary)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(rows):
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += [
        "| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]
    ]
    return "\n".join(out)


def _fallback_tol(reproduction):
    return min(c.fallback_tol for c in reproduction.estimators.values())


def _bound_text(reproduction):
    """The bound on each learned change, as the fitted classifiers hold it."""
    bounds = {c.max_update for c in reproduction.estimators.values()}
    if bounds == {None}:
        return "learned changes unbounded"
    bound = max(b for b in bounds if b is not None)
    return f"each learned change bounded to [{-bound:g}, {bound:g}]"


def summary_markdown(reproduction):
    """The reproduction as a markdown report (what ``summary.md`` holds).

    Parameters
    ----------
    reproduction : Reproduction

    Returns
    -------
    text : str
    """
    s = reproduction.summary
    st = reproduction.settings
    lines = [
        "# Reproducing the paper's four experiments",
        "",
        f"{st['n_seeds']} seeds per method and experiment"
        + (" (quick mode: a smoke test, not a reproduction)" if st["quick"] else "")
        + f"; learner: {st['learner']}"
        + (
            "; learned students guarded (a student whose error rises by over "
            f"{_fallback_tol(reproduction):.0%} falls back to backprop: beyond "
            "the paper)"
            if st.get("guard")
            else ""
        )
        + f"; {st['workers']} worker(s); "
        f"{st['wall_time_s']:.0f} s in all.",
        "",
        "Final J is the mean pattern error (eq. 2) of the last epoch, median and "
        "quartiles over seeds. *Solved*: share of runs that classify every "
        "training pattern. *Error rose*: share of runs whose last-epoch error "
        "is above their first-epoch error, or became non-finite (the paper's "
        "'diverges'). *Test acc*: median accuracy on the test set (experiment "
        "4). Times: wall time to train all seeds of a method as lockstep "
        "stacks; the paper's experiment 1 took "
        f"{PAPER_TIMES['backprop']} s with backprop and {PAPER_TIMES['learned']} "
        "s with the learning network (ratio "
        f"{PAPER_TIMES['learned'] / PAPER_TIMES['backprop']:.1f}).",
        "",
        _markdown_table(summary_table(s)),
        "",
        "## The paper's claims and the verdicts",
        "",
    ]
    for _, r in s.iterrows():
        lines += [
            f"- **{r['experiment']} {r['title']}** (learning network here "
            f"{r['learner']}, in the paper {r['paper_learner']}; learner fitted "
            f"in {r['learner_fit_s']:.1f} s, final training loss "
            f"{r['learner_loss']:.3g}). Paper: *{r['claim']}* "
            f"Verdict: **{r['verdict']}** ({r['reason']})."
            + (
                f" With the guard, {r['fell_back_learned']:.0%} of the learned "
                "students fell back to backprop."
                if st.get("guard")
                else ""
            ),
        ]
    lines += [
        "",
        "## Settings: the paper's, or chosen here where the paper gives none",
        "",
    ]
    for e in reproduction.experiments:
        lines.append(f"- {e.name}: {e.describe_settings()}.")
    lines += [
        "- exp4's data: points uniform on the unit square, the class is a "
        "centred inner square of half the area (balanced classes); accuracy "
        "takes the more active of the two output units.",
        "- All: weights and biases uniform within Glorot's bound, patterns in "
        "the order given, one pattern per update (online), logistic units, "
        f"{_bound_text(reproduction)}; students start from seeds that "
        "no teacher run used, and the two methods' students of a seed start "
        "from the same weights.",
        f"- Verdict rule (`sk_metabp.experiments.judge`): 'better' needs the "
        f"learned median J at most "
        f"{st['judge_options'].get('better_factor', BETTER_FACTOR)} times "
        "backprop's, 'comparable' within a factor "
        f"{st['judge_options'].get('comparable_factor', COMPARABLE_FACTOR)}; "
        "'diverges' needs "
        "the learned error to rise in most runs while backprop's does not and "
        "backprop solves fewer than half of the runs.",
        "",
    ]
    return "\n".join(lines)
