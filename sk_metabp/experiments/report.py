"""The reproduction as text: a terminal table and a markdown report.

Every number the report states about the method (the verdict's thresholds, the
bound on a learned change, the paper's timings) is read from the code that uses
it, so that the report cannot drift from it.
"""

import numpy as np

from .catalogue import PAPER_TIMES
from .verdict import BETTER_FACTOR, COMPARABLE_FACTOR, VERDICTS


def _fmt_J(med, q1, q3):
    if not np.isfinite(med):
        return "n/a"
    return f"{med:.2e} [{q1:.2e}, {q3:.2e}]"


def _fmt_spread(row, method):
    """Min / median / max over fits of each fit's median final J."""
    values = [row[f"J_{method}_fits_{k}"] for k in ("min", "median", "max")]
    if not np.isfinite(values).all():
        return "n/a"
    return " / ".join(f"{v:.2e}" for v in values)


def _fits_text(row):
    """How the fits' verdicts split, e.g. '2 of 3 fits; partly in 1'."""
    n = int(row["n_fits"])
    counts = {v: int(round(row[f"fits_{v.replace(' ', '_')}"] * n)) for v in VERDICTS}
    others = [f"{v} in {c}" for v, c in counts.items() if c and v != row["verdict"]]
    return f"{counts[row['verdict']]} of {n} fits" + "".join(f"; {o}" for o in others)


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
        "learned median J of each fit: min / median / max",
        "solved bp / learned",
        "error rose bp / learned",
        "test acc bp / learned",
        "time bp / learned (ratio)",
        "verdict (share of fits)",
    ]
    rows = [header]
    for _, r in summary.iterrows():
        rows.append(
            [
                f"{r['experiment']} {r['title']}",
                _fmt_J(r["J_backprop"], r["J_backprop_q1"], r["J_backprop_q3"]),
                _fmt_J(r["J_learned"], r["J_learned_q1"], r["J_learned_q3"]),
                _fmt_spread(r, "learned"),
                f"{_fmt_share(r['solved_backprop'])} / "
                f"{_fmt_share(r['solved_learned'])}",
                f"{_fmt_share(r['rose_backprop'])} / {_fmt_share(r['rose_learned'])}",
                f"{_fmt_share(r['test_accuracy_backprop'])} / "
                f"{_fmt_share(r['test_accuracy_learned'])}",
                f"{r['time_backprop_s']:.2f} s / {r['time_learned_s']:.2f} s "
                f"({r['time_ratio']:.1f}x)",
                f"{r['verdict']} ({_fmt_share(r['verdict_fits'])})",
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


def _fitted(reproduction):
    """Every fitted classifier of the reproduction, over experiments and fits."""
    return [c for fits in reproduction.estimators.values() for c in fits]


def _fallback_tol(reproduction):
    return min(c.fallback_tol for c in _fitted(reproduction))


def _bound_text(reproduction):
    """The bound on each learned change, as the fitted classifiers hold it."""
    bounds = {c.max_update for c in _fitted(reproduction)}
    if bounds == {None}:
        return "learned changes unbounded"
    bound = max(b for b in bounds if b is not None)
    return f"each learned change bounded to [{-bound:g}, {bound:g}]"


def _imitation_text(imitation):
    """How the learners learned, for the report's first paragraph."""
    if imitation == "dagger":
        return (
            "; on-policy imitation (each learner refitted on the states of "
            "students it trained, labelled with the teacher's change there)"
        )
    if imitation == "matched":
        return (
            "; the teacher recorded over as many more runs as on-policy "
            "imitation adds rows"
        )
    if imitation is None:
        return "; each experiment's own imitation (see its settings)"
    return ""


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
    fits = reproduction.fits
    st = reproduction.settings
    lines = [
        "# Reproducing the paper's four experiments",
        "",
        f"{st['n_fits']} independent fits of each experiment's learner (teacher "
        f"seeds and learner seed change with the fit), {st['n_seeds']} seeds per "
        "method and fit"
        + (" (quick mode: a smoke test, not a reproduction)" if st["quick"] else "")
        + f"; learner: {st['learner']}"
        + (
            "; learned students guarded (a student whose error rises by over "
            f"{_fallback_tol(reproduction):.0%} falls back to backprop: beyond "
            "the paper)"
            if st.get("guard")
            else ""
        )
        + _imitation_text(st.get("imitation"))
        + f"; {st['workers']} worker(s); "
        f"{st['wall_time_s']:.0f} s in all.",
        "",
        "Final J is the mean pattern error (eq. 2) of the last epoch, median and "
        "quartiles over the seeds of all fits; *median J of each fit*: the "
        "smallest, middle and largest of the fits' own medians. The verdict is "
        "the one most fits give (a tie goes to the less favourable), with the "
        "share of fits that give it. *Solved*: share of runs that classify every "
        "training pattern. *Error rose*: share of runs whose last-epoch error "
        "is above their first-epoch error, or became non-finite (the paper's "
        "'diverges'). *Test acc*: median accuracy on the test set (experiment "
        "4). Times: wall time to train all seeds of a method (all fits) as lockstep "
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
            f"{r['learner']}, in the paper {r['paper_learner']}; a learner fitted "
            f"in {r['learner_fit_s']:.1f} s, final training loss "
            f"{r['learner_loss']:.3g}, on {r['learner_rows']:,} rows"
            + (
                f", error on its students' states {r['student_error']:.3g}"
                if np.isfinite(r["student_error"])
                else ""
            )
            + "; medians over fits). Paper: "
            f"*{r['claim']}* Verdict: **{r['verdict']}** in {_fits_text(r)}. "
            "Median final J of each fit, min / median / max: backprop "
            f"{_fmt_spread(r, 'backprop')}, learned {_fmt_spread(r, 'learned')}."
            + (
                f" With the guard, {r['fell_back_learned']:.0%} of the learned "
                "students fell back to backprop."
                if st.get("guard")
                else ""
            ),
        ]
        for _, f in fits[fits["experiment"] == r["experiment"]].iterrows():
            lines.append(f"  - fit {f['fit']}: {f['verdict']} ({f['reason']}).")
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
        f"{_bound_text(reproduction)}; fit r records its teacher runs and fits "
        f"its learner from random_state + r (random_state={st['random_state']}); "
        "students start from seeds that no teacher run of their fit and no "
        "student of another fit used, and the two methods' students of a seed "
        "start from the same weights.",
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
