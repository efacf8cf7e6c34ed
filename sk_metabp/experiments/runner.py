"""The runner: the paper's experiments repeated over seeds, and compared.

:func:`run_experiments` fits one learner per experiment (the paper's steps 1
and 2), then trains many fresh networks from different seeds with backprop and
with the learned rule, as lockstep stacks spread over joblib workers (step 3),
and compares them. Its phases are the functions below, in order:
:func:`_prepare` (check the arguments, pick the experiments and learners),
:func:`_fit_learners`, :func:`_student_tasks` (seed batches),
:func:`_train_students`, :func:`_results_frame` (tidy curves) and
:func:`_summary` (one judged row per experiment).

The paper reports single runs. Here every comparison is over seeds and over
independent fits of the learner: each experiment is repeated over ``n_fits``
fits (fit ``r`` records its teacher runs and fits its learner from
``random_state + r``) with ``n_seeds`` students of each method per fit. Each
fit gets its own verdict from :func:`~sk_metabp.experiments.judge` (medians and
quartiles of the final error, the share of runs that classify every training
pattern correctly); the summary gives the verdict most fits give, the share of
fits giving each verdict, and the spread over fits of the median final error.
Besides the catalogue's settings:

- students start from seeds that no teacher run of their fit used and no
  student of an earlier fit used; backprop's and the learned rule's student
  of the same seed start from the same weights;
- the headline verdict is the one most fits give; a tie goes to the less
  favourable verdict (later in :data:`~sk_metabp.experiments.VERDICTS`);
- a run counts as *solved* when it classifies every training pattern
  correctly; accuracy takes the output above 0.5 for one output unit, the
  most active unit for two (experiment 4's ``innersquare``/``outersquare``);
- a run *rose* (the paper's "diverges") when its error after the last epoch
  is above its error in the first epoch, or it became non-finite.
"""

import copy
import time
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone

from .._mlp import forward
from ..backprop import BackpropMLPRegressor
from ..learned import LearnedRuleMLPClassifier
from .catalogue import IMITATIONS, make_learner, resolve_experiments
from .report import summary_markdown
from .verdict import VERDICTS, judge

#: The two ways a student is trained.
METHODS = ("backprop", "learned")

#: Independent fits of each experiment's learner when ``n_fits`` is not given.
DEFAULT_FITS = 3


@dataclass
class Reproduction:
    """What :func:`run_experiments` returns.

    Attributes
    ----------
    results : pandas.DataFrame
        Tidy: one row per experiment, method, fit, seed and kept epoch, with
        the columns ``experiment, method, fit, seed, epoch, J, train_accuracy,
        test_accuracy`` (``test_accuracy`` is NaN without a test set). ``J``
        is the epoch's mean pattern error (eq. 2, ``loss_curve_``); the
        accuracies are those of the weights at the end of that epoch.
    summary : pandas.DataFrame
        One row per experiment, over all its fits' students: final J median
        and quartiles, share of runs solved and of runs whose error rose,
        median test accuracy, wall times; the min, median and max over fits
        of each fit's median final J (``J_learned_fits_min`` ...); the paper's
        claim, the verdict most fits give (``verdict``, ``verdict_fits``: the
        share of fits giving it) and the share of fits giving each verdict
        (``fits_reproduced``, ``fits_partly``, ``fits_not_reproduced``).
    fits : pandas.DataFrame
        One row per experiment and fit, with the summary's statistics over
        that fit's students, its ``verdict`` and ``reason``.
    learner_curves : pandas.DataFrame
        ``experiment, fit, epoch, loss``: each learner's training error.
    estimators : dict
        Experiment name -> list of the fitted
        :class:`LearnedRuleMLPClassifier`, one per fit, holding the learner
        (``learner_``) and the teacher's recording.
    experiments : tuple of Experiment
        The experiments as run (after ``quick``).
    settings : dict
        The runner's arguments.
    imitation_history : pandas.DataFrame
        With ``imitation="dagger"``: each learner's ``imitation_history_``
        with ``experiment`` and ``fit`` columns first; empty otherwise.
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    fits: pd.DataFrame
    learner_curves: pd.DataFrame
    estimators: dict
    experiments: tuple
    settings: dict
    imitation_history: pd.DataFrame = None

    def to_markdown(self):
        """The summary as markdown: a results table, claims and settings."""
        return summary_markdown(self)


def run_experiments(
    experiments=None,
    *,
    n_fits=DEFAULT_FITS,
    n_seeds=32,
    n_jobs=None,
    quick=False,
    learner="default",
    curve_points=200,
    random_state=0,
    judge_options=None,
    guard=False,
    imitation=None,
    verbose=False,
):
    """Run the paper's experiments over many seeds and judge its claims.

    For each experiment: record ``n_teacher_runs`` backprop runs and fit the
    learner on them (a :class:`~sk_metabp.LearnedRuleMLPClassifier`, once per
    experiment), then train ``n_seeds`` fresh networks with backprop and the
    same ``n_seeds`` with the learned rule. Each method's seeds train as
    lockstep stacks, split into batches over ``n_jobs`` joblib workers.

    Parameters
    ----------
    experiments : iterable of str or Experiment, default=None
        Names (``"exp1"`` or ``"1"``) or :class:`Experiment` objects (for
        changed settings, ``dataclasses.replace(EXPERIMENTS["exp4"],
        epochs=300)``); None runs all four.
    n_fits : int, default=DEFAULT_FITS
        Independent fits of each experiment's learner: fit ``r`` records the
        teacher from ``random_state + r`` and fits the learner with
        ``random_state + r`` (a learner without ``random_state`` is cloned).
    n_seeds : int, default=32
        Students per method, experiment and fit.
    n_jobs : int or None, default=None
        joblib workers, for the learners' fits (one per experiment) and the
        seed batches; None follows ``joblib.parallel_config`` (1 by default).
    quick : bool, default=False
        Run :meth:`Experiment.quick` versions and a learner of 20 epochs: a
        smoke test, not a reproduction.
    learner : "default", "paper" or regressor, default="default"
        See :func:`make_learner`.
    curve_points : int, default=200
        About how many epochs of each run to keep in ``results`` (half spread
        on a log scale, half evenly); the summary uses every epoch.
    random_state : int, default=0
        Seeds the fits: fit ``r`` draws its teacher runs' seeds from, and
        seeds its learner with, ``random_state + r``.
    judge_options : dict, default=None
        Keyword arguments for :func:`judge` (its factors and tolerance).
    guard : bool, default=False
        Beyond the paper: train the learned students with the fallback guard
        (``on_divergence="fallback"`` of
        :class:`~sk_metabp.LearnedRuleMLPClassifier`), which hands a student
        whose error rises back to backprop. The summary's
        ``fell_back_learned`` is the share of students that fell back.
    imitation : {"teacher", "matched", "dagger"} or None, default=None
        How the learner learns; None is each experiment's own
        (``Experiment.imitation``: on-policy for experiment 1, plain for the
        others). From ``n_teacher_runs`` teacher runs (the
        paper's way), from as many more teacher runs as on-policy imitation
        adds rows (``"matched"``), or by on-policy imitation (``"dagger"``:
        the experiment's ``imitation_iter`` rounds of ``n_rollouts``
        rollouts); see :meth:`Experiment.imitation_settings`. The summary's
        ``learner_rows`` is the rows of each learner's last fit (median over
        fits).
    verbose : bool or callable, default=False
        Print a progress line, with the elapsed time, when a learner is fitted
        and when a seed batch is trained; a callable receives the lines.

    Returns
    -------
    Reproduction
        ``results`` (tidy curves), ``summary`` (one row per experiment),
        ``learner_curves``, the fitted ``estimators``.

    Examples
    --------
    >>> from sk_metabp.experiments import run_experiments
    >>> rep = run_experiments(["exp2"], n_fits=2, n_seeds=2, quick=True)
    >>> sorted(set(rep.results["method"])), sorted(set(rep.results["fit"].tolist()))
    (['backprop', 'learned'], [0, 1])
    >>> rep.results["seed"].nunique()  # each fit has students of its own
    4
    >>> rep.summary.loc[0, "verdict"] in ("reproduced", "partly", "not reproduced")
    True
    >>> len(rep.fits)  # one judged row per fit
    2
    """
    if imitation is not None and imitation not in IMITATIONS:
        raise ValueError(
            f"imitation must be one of {list(IMITATIONS)}; got {imitation!r}."
        )
    n_fits, n_seeds, experiments, learners = _prepare(
        experiments, n_fits, n_seeds, curve_points, quick, learner, random_state
    )
    judge_options = dict(judge_options or {})
    report = _progress(verbose)
    started = time.perf_counter()
    workers = effective_n_jobs(n_jobs)
    estimators, fit_times = _fit_learners(
        experiments, learners, n_fits, random_state, n_jobs, report, imitation
    )
    tasks = _student_tasks(
        experiments, estimators, n_seeds, workers, guard, curve_points
    )
    parts = _train_students(tasks, n_jobs, report)
    results = _results_frame(experiments, parts, curve_points)
    fits, summary = _summary(experiments, estimators, fit_times, parts, judge_options)
    learner_curves = _learner_curves(experiments, estimators)
    settings = {
        "n_fits": n_fits,
        "n_seeds": n_seeds,
        "n_jobs": n_jobs,
        "workers": workers,
        "quick": bool(quick),
        "learner": learner if isinstance(learner, str) else repr(learner),
        "curve_points": curve_points,
        "random_state": random_state,
        "judge_options": judge_options,
        "guard": bool(guard),
        "imitation": imitation,
        "wall_time_s": time.perf_counter() - started,
    }
    return Reproduction(
        results,
        summary,
        fits,
        learner_curves,
        estimators,
        experiments,
        settings,
        _imitation_history(experiments, estimators),
    )


def _imitation_history(experiments, estimators):
    """Every learner's on-policy imitation history, by experiment and fit."""
    frames = [
        clf.imitation_history_.assign(experiment=e.name, fit=fit)
        for e in experiments
        for fit, clf in enumerate(estimators[e.name])
        if clf.imitation_history_ is not None
    ]
    if not frames:
        return pd.DataFrame(columns=["experiment", "fit"])
    history = pd.concat(frames, ignore_index=True)
    first = ["experiment", "fit"]
    return history[first + [c for c in history.columns if c not in first]]


def _prepare(experiments, n_fits, n_seeds, curve_points, quick, learner, seed):
    """Check the arguments; the experiments as run and a learner for each."""
    for name, value in (("n_fits", n_fits), ("n_seeds", n_seeds)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    if not isinstance(seed, Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(
            f"random_state must be an integer >= 0 (fit r uses random_state + r); "
            f"got {seed!r}."
        )
    if not isinstance(curve_points, Integral) or curve_points < 2:
        raise ValueError(f"curve_points must be an integer >= 2; got {curve_points!r}.")
    experiments = resolve_experiments(experiments)
    if quick:
        experiments = tuple(e.quick() for e in experiments)
    learners = {}
    for e in experiments:
        learners[e.name] = make_learner(e, learner)
        if quick and isinstance(learners[e.name], BackpropMLPRegressor):
            learners[e.name].set_params(max_iter=min(20, learners[e.name].max_iter))
    return int(n_fits), int(n_seeds), experiments, learners


def _fit_learners(
    experiments, learners, n_fits, random_state, n_jobs, report, imitation
):
    """Steps 1 and 2: a learner per experiment and fit, spread over workers.

    Returns ``estimators`` and ``fit_times``: experiment name -> a list with
    one entry per fit.
    """
    by_name = {e.name: e for e in experiments}
    estimators = {e.name: [None] * n_fits for e in experiments}
    fit_times = {e.name: [None] * n_fits for e in experiments}
    jobs = [(e, r) for e in experiments for r in range(n_fits)]
    done = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_fit_learner)(e, learners[e.name], r, random_state + r, imitation)
        for e, r in jobs
    )
    for name, fit, clf, elapsed in done:
        e = by_name[name]
        estimators[name][fit], fit_times[name][fit] = clf, elapsed
        how = f"{clf.n_teacher_runs} teacher runs of {e.epochs} epochs"
        if clf.imitation_history_ is not None:
            how += f" and {clf.imitation_iter} rounds of {clf.n_rollouts} rollouts"
        report(
            f"{name} {e.title}: fit {fit}: learner {_learner_topology(clf)} fitted "
            f"on {_learner_rows(clf):,} rows from {how} in {elapsed:.1f} s"
        )
    return estimators, fit_times


def _learner_rows(clf):
    """The rows of a learned classifier's last learner fit."""
    history = clf.imitation_history_
    if history is None:
        return len(clf.recorder_.features_)
    return int(history["rows"].iloc[-1])


def _fit_learner(experiment, learner, fit, random_state, imitation=None):
    """Record the teacher and fit the learner of one fit (in one worker)."""
    X, y, _, _ = experiment.load_data()
    if "random_state" in learner.get_params():
        learner = clone(learner).set_params(random_state=random_state)
    # max_iter=1: fit trains one student epoch; the students proper are
    # trained as stacks by _train_batch
    clf = LearnedRuleMLPClassifier(
        hidden_layer_sizes=experiment.hidden_layer_sizes,
        learner=learner,
        variables=experiment.variables,
        teacher=experiment.teacher(),
        **experiment.imitation_settings(imitation),
        record_every=experiment.record_every,
        max_iter=1,
        random_state=random_state,
        n_jobs=1,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return experiment.name, fit, clf, time.perf_counter() - start


def _student_tasks(experiments, estimators, n_seeds, workers, guard, curve_points):
    """Step 3's work: both methods' seeds in batches, the dearest batch first."""
    tasks = []
    n_batches = max(1, min(n_seeds, workers))
    for e in experiments:
        keep = _curve_epochs(e.epochs, curve_points)
        used = set()  # each fit's students are new networks
        for fit, fitted in enumerate(estimators[e.name]):
            clf = copy.copy(fitted)
            clf.recorder_ = None  # the recording stays here; workers need the rule
            if guard:
                clf.on_divergence = "fallback"
            seeds = _student_seeds(n_seeds, used | set(fitted.recorder_.seeds_))
            used.update(seeds)
            for method in METHODS:
                for batch in _batches(seeds, n_batches):
                    student = clf if method == "learned" else None
                    tasks.append((e, fit, method, student, batch, keep))
    # longest first, so that no worker is left with a long batch at the end
    tasks.sort(key=lambda t: -_cost(t[0], t[2]) * len(t[4]))
    return tasks


def _train_students(tasks, n_jobs, report):
    """Step 3: train the seed batches over the workers, as they finish."""
    epochs = {t[0].name: t[0].epochs for t in tasks}
    parts = []
    runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_train_batch)(*task) for task in tasks
    )
    for part in runs:
        parts.append(part)
        s = part["seeds"]
        report(
            f"{part['experiment']}: fit {part['fit']}: {part['method']:8s} seeds "
            f"{s.min()}-{s.max()} "
            f"({len(s)} networks x {epochs[part['experiment']]} epochs) in "
            f"{part['time']:.1f} s, median final J {np.nanmedian(part['final_J']):.3g}"
        )
    return parts


def _results_frame(experiments, parts, curve_points):
    """The tidy curves: one row per experiment, method, seed and kept epoch."""
    epochs = {e.name: e.epochs for e in experiments}
    frames = []
    for p in parts:
        keep = _curve_epochs(epochs[p["experiment"]], curve_points)
        K = len(p["seeds"])
        frames.append(
            pd.DataFrame(
                {
                    "experiment": p["experiment"],
                    "method": p["method"],
                    "fit": p["fit"],
                    "seed": np.repeat(p["seeds"], len(keep)),
                    "epoch": np.tile(keep, K),
                    "J": p["J"].ravel(),
                    "train_accuracy": p["train_accuracy"].ravel(),
                    "test_accuracy": p["test_accuracy"].ravel(),
                }
            )
        )
    order = {e.name: i for i, e in enumerate(experiments)}
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(
            ["experiment", "method", "fit", "seed", "epoch"],
            key=lambda c: c.map(order) if c.name == "experiment" else c,
        )
        .reset_index(drop=True)
    )


def _summary(experiments, estimators, fit_times, parts, judge_options):
    """One judged row per experiment and fit, and one row per experiment."""
    fit_rows, rows = [], []
    for e in experiments:
        mine = [p for p in parts if p["experiment"] == e.name]
        judged = []
        for fit, clf in enumerate(estimators[e.name]):
            curve = _learner_curve(clf)
            row = {
                "experiment": e.name,
                "fit": fit,
                "learner_fit_s": fit_times[e.name][fit],
                "learner_loss": curve[-1] if len(curve) else np.nan,
                "learner_rows": _learner_rows(clf),
                **_imitation_stats(clf),
                **_stats([p for p in mine if p["fit"] == fit]),
            }
            row.update(_judged(e, row, judge_options))
            judged.append(row)
        fit_rows += judged
        rows.append(_experiment_row(e, estimators[e.name][0], mine, judged))
    return pd.DataFrame(fit_rows), pd.DataFrame(rows)


def _experiment_row(experiment, clf, parts, judged):
    """An experiment's summary: all fits' students, and the fits' verdicts."""
    fits = pd.DataFrame(judged)
    row = {
        "experiment": experiment.name,
        "title": experiment.title,
        "topology": experiment.topology,
        "epochs": experiment.epochs,
        "learner": _learner_topology(clf),
        "paper_learner": experiment.paper_learning_network,
        "n_fits": len(fits),
        "learner_fit_s": fits["learner_fit_s"].median(),
        "learner_loss": fits["learner_loss"].median(),
        "learner_rows": int(fits["learner_rows"].median()),
        "student_error": fits["student_error"].median(),
        **_stats(parts),
    }
    row["n_seeds"] = int(fits["n_seeds"].iloc[0])  # per fit
    for method in METHODS:
        medians = fits[f"J_{method}"]
        row[f"J_{method}_fits_min"] = medians.min()
        row[f"J_{method}_fits_median"] = medians.median()
        row[f"J_{method}_fits_max"] = medians.max()
    best, shares = headline_verdict(fits["verdict"])
    for v in VERDICTS:
        row[f"fits_{v.replace(' ', '_')}"] = shares[v]
    row["claim"] = experiment.claim
    row["expected"] = experiment.expected
    row["verdict"] = best
    row["verdict_fits"] = shares[best]
    row["reason"] = fits.loc[fits["verdict"] == best, "reason"].iloc[0]
    return row


def _imitation_stats(clf):
    """The last round of on-policy imitation: the learner's error on teacher
    and on student states (NaN without on-policy imitation)."""
    history = clf.imitation_history_
    if history is None:
        return {"teacher_error": np.nan, "student_error": np.nan}
    last = history.iloc[-1]
    return {
        "teacher_error": float(last["teacher_error"]),
        "student_error": float(last["student_error"]),
    }


def headline_verdict(verdicts):
    """The verdict most fits give, and the share of fits giving each verdict.

    A tie goes to the less favourable verdict (the later in
    :data:`~sk_metabp.experiments.VERDICTS`).

    Examples
    --------
    >>> from sk_metabp.experiments import headline_verdict
    >>> headline_verdict(["reproduced", "partly", "reproduced"])[0]
    'reproduced'
    >>> headline_verdict(["reproduced", "partly"])[0]
    'partly'
    """
    verdicts = list(verdicts)
    if not verdicts or not set(verdicts) <= set(VERDICTS):
        raise ValueError(f"verdicts must be some of {VERDICTS}; got {verdicts!r}.")
    shares = {v: verdicts.count(v) / len(verdicts) for v in VERDICTS}
    best = max(VERDICTS, key=lambda v: (shares[v], VERDICTS.index(v)))
    return best, shares


def _stats(parts):
    """Final J quartiles, shares solved, rose and fell back, times: per method."""
    row = {}
    for method in METHODS:
        done = [p for p in parts if p["method"] == method]
        final = np.concatenate([p["final_J"] for p in done])
        first = np.concatenate([p["first_J"] for p in done])
        diverged = np.concatenate([p["diverged"] for p in done])
        solved = np.concatenate([p["final_accuracy"] for p in done]) >= 1.0
        test = np.concatenate([p["final_test_accuracy"] for p in done])
        q1, med, q3 = _quartiles(final)
        rose = diverged | ~(final <= first)
        row[f"J_{method}"] = med
        row[f"J_{method}_q1"] = q1
        row[f"J_{method}_q3"] = q3
        row[f"solved_{method}"] = solved.mean()
        row[f"rose_{method}"] = rose.mean()
        row[f"test_accuracy_{method}"] = (
            np.nanmedian(test) if np.isfinite(test).any() else np.nan
        )
        row[f"time_{method}_s"] = sum(p["time"] for p in done)
        row[f"fell_back_{method}"] = np.concatenate(
            [p["fell_back"] for p in done]
        ).mean()
        row["n_seeds"] = len(final)
    row["time_ratio"] = (
        row["time_learned_s"] / row["time_backprop_s"]
        if row["time_backprop_s"] > 0
        else np.nan
    )
    return row


def _judged(experiment, row, judge_options):
    """The verdict on the experiment's claim from one fit's statistics."""
    v = judge(
        experiment.expected,
        J_backprop=row["J_backprop"],
        J_learned=row["J_learned"],
        solved_backprop=row["solved_backprop"],
        solved_learned=row["solved_learned"],
        rose_backprop=row["rose_backprop"],
        rose_learned=row["rose_learned"],
        **judge_options,
    )
    return {"verdict": v.verdict, "reason": v.reason}


def _learner_curves(experiments, estimators):
    """``experiment, fit, epoch, loss``: each learner's training error."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "experiment": e.name,
                    "fit": fit,
                    "epoch": np.arange(1, len(curve) + 1),
                    "loss": curve,
                }
            )
            for e in experiments
            for fit, clf in enumerate(estimators[e.name])
            for curve in [_learner_curve(clf)]
        ],
        ignore_index=True,
    )


def _learner_topology(clf):
    learner = clf.learner_
    hidden = getattr(learner, "hidden_layer_sizes", None)
    if hidden is None:
        return type(learner).__name__
    hidden = () if tuple(np.atleast_1d(hidden)) == () else np.atleast_1d(hidden)
    sizes = (clf.mode_.n_features, *hidden, clf.mode_.n_targets)
    return "-".join(str(int(s)) for s in sizes)


def _learner_curve(clf):
    """The learner's training error, empty for a learner that keeps none."""
    return np.asarray(getattr(clf.learner_, "loss_curve_", []), dtype=float)


def _curve_epochs(n_epochs, n_points):
    """About ``n_points`` epochs (1-based) to keep: half log-, half evenly spaced."""
    n_epochs = int(n_epochs)
    if n_points >= n_epochs:
        return np.arange(1, n_epochs + 1)
    half = max(2, n_points // 2)
    picks = np.r_[
        np.geomspace(1, n_epochs, half), np.linspace(1, n_epochs, n_points - half)
    ]
    return np.unique(np.round(picks).astype(int))


def _accuracy(coefs, intercepts, X, truth):
    """Share of patterns each of K networks classifies right: shape (K,)."""
    K = coefs[0].shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        _, acts = forward(
            coefs, intercepts, np.broadcast_to(X, (K, *X.shape)), "logistic", "logistic"
        )
    out = acts[-1]
    pred = out[:, :, 0] > 0.5 if out.shape[2] == 1 else out.argmax(axis=2)
    return (pred == truth).mean(axis=1)


def _truth(Y):
    """Class of each encoded target row: 0/1 for one column, argmax for more."""
    return Y[:, 0] > 0.5 if Y.shape[1] == 1 else Y.argmax(axis=1)


def _train_batch(experiment, fit, method, clf, seeds, keep):
    """One stack of seeds (in one worker): train, keep curves and accuracies."""
    X, y, X_test, y_test = experiment.load_data()
    backprop = experiment.teacher()
    data = backprop.training_data(X, y)
    Xs, Y = data.X, data.Y
    truth = _truth(Y)
    if X_test is not None:
        Xt, Yt, _ = backprop.training_data(X_test, y_test, reset=False)
        truth_test = _truth(Yt)
    n, K, E = Xs.shape[0], len(seeds), experiment.epochs
    slot = {int(e): i for i, e in enumerate(keep)}
    acc = np.full((K, len(keep)), np.nan)
    acc_test = np.full((K, len(keep)), np.nan)

    def measure(coefs, intercepts, i):
        acc[:, i] = _accuracy(coefs, intercepts, Xs, truth)
        if X_test is not None:
            acc_test[:, i] = _accuracy(coefs, intercepts, Xt, truth_test)

    def callback(step, dcoefs, dintercepts):
        # the first update of an epoch sees the weights the last epoch ended with
        if step.step % n == 0 and step.step // n in slot:
            measure(step.coefs, step.intercepts, slot[step.step // n])

    start = time.perf_counter()
    trainer = backprop if method == "backprop" else clf
    students = trainer.train_students(data, seeds, callback=callback, max_iter=E)
    elapsed = time.perf_counter() - start
    if E in slot:
        measure(students.coefs, students.intercepts, slot[E])
    curves, n_iter, diverged = students.loss_curves, students.n_iter, students.diverged
    rule = students.rule
    full = np.full((K, E), np.nan)
    full[:, : curves.shape[1]] = curves
    last = np.maximum(n_iter, 1) - 1
    final = full[np.arange(K), last]
    J = full[:, keep - 1]
    acc[np.isnan(J)] = np.nan
    acc_test[np.isnan(J)] = np.nan
    final_acc = acc[np.arange(K), np.searchsorted(keep, last + 1, side="right") - 1]
    return {
        "experiment": experiment.name,
        "fit": fit,
        "method": method,
        "seeds": np.asarray(seeds),
        "J": J,
        "train_accuracy": acc,
        "test_accuracy": acc_test,
        "first_J": full[:, 0],
        "final_J": final,
        "final_accuracy": final_acc,
        "final_test_accuracy": acc_test[:, -1],
        "diverged": diverged >= 0,
        "fell_back": getattr(rule, "fell_back", np.full(K, -1)) >= 0,
        "time": elapsed,
    }


def _cost(experiment, method):
    """Rough cost of one student: updates, the learned rule about 2.5x dearer."""
    n = experiment.n_train if experiment.task == "squares" else 4
    return experiment.epochs * n * (2.5 if method == "learned" else 1.0)


def _student_seeds(n_seeds, taken):
    """The first ``n_seeds`` integers not in ``taken`` (teachers', earlier fits')."""
    taken = {int(s) for s in taken}
    seeds, s = [], 0
    while len(seeds) < n_seeds:
        if s not in taken:
            seeds.append(s)
        s += 1
    return seeds


def _batches(seeds, n_batches):
    return [list(b) for b in np.array_split(seeds, n_batches) if len(b)]


def _quartiles(a):
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    if not a.size:
        return np.nan, np.nan, np.nan
    return tuple(np.percentile(a, [25, 50, 75]))


def _progress(verbose):
    if callable(verbose):
        return verbose
    if not verbose:
        return lambda message: None
    start = time.perf_counter()

    def report(message):
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    return report
