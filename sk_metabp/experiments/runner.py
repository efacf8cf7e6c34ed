"""The runner: the paper's experiments repeated over seeds, and compared.

:func:`run_experiments` fits one learner per experiment (the paper's steps 1
and 2), then trains many fresh networks from different seeds with backprop and
with the learned rule, as lockstep stacks spread over joblib workers (step 3),
and compares them. Its phases are the functions below, in order:
:func:`_prepare` (check the arguments, pick the experiments and learners),
:func:`_fit_learners`, :func:`_student_tasks` (seed batches),
:func:`_train_students`, :func:`_results_frame` (tidy curves) and
:func:`_summary` (one judged row per experiment).

The paper reports single runs. Here every comparison is over seeds: medians and
quartiles of the final error, the share of runs that classify every training
pattern correctly, and a verdict on the paper's claim from
:func:`~sk_metabp.experiments.judge`. Besides the catalogue's settings:

- students start from seeds that no teacher run used; backprop's and the
  learned rule's student of the same seed start from the same weights;
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

from .._mlp import forward
from ..backprop import BackpropMLPRegressor
from ..learned import LearnedRuleMLPClassifier
from .catalogue import make_learner, resolve_experiments
from .report import summary_markdown
from .verdict import judge

#: The two ways a student is trained.
METHODS = ("backprop", "learned")


@dataclass
class Reproduction:
    """What :func:`run_experiments` returns.

    Attributes
    ----------
    results : pandas.DataFrame
        Tidy: one row per experiment, method, seed and kept epoch, with the
        columns ``experiment, method, seed, epoch, J, train_accuracy,
        test_accuracy`` (``test_accuracy`` is NaN without a test set). ``J``
        is the epoch's mean pattern error (eq. 2, ``loss_curve_``); the
        accuracies are those of the weights at the end of that epoch.
    summary : pandas.DataFrame
        One row per experiment: final J median and quartiles, share of runs
        solved and of runs whose error rose, median test accuracy, wall
        times, the paper's claim and the verdict.
    learner_curves : pandas.DataFrame
        ``experiment, epoch, loss``: each learner's training error.
    estimators : dict
        Experiment name -> the fitted :class:`LearnedRuleMLPClassifier`
        holding the learner (``learner_``) and the teacher's recording.
    experiments : tuple of Experiment
        The experiments as run (after ``quick``).
    settings : dict
        The runner's arguments.
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    learner_curves: pd.DataFrame
    estimators: dict
    experiments: tuple
    settings: dict

    def to_markdown(self):
        """The summary as markdown: a results table, claims and settings."""
        return summary_markdown(self)


def run_experiments(
    experiments=None,
    *,
    n_seeds=32,
    n_jobs=None,
    quick=False,
    learner="default",
    curve_points=200,
    random_state=0,
    judge_options=None,
    guard=False,
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
    n_seeds : int, default=32
        Students per method and experiment.
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
        Seeds the teacher runs (their seeds are drawn from it).
    judge_options : dict, default=None
        Keyword arguments for :func:`judge` (its factors and tolerance).
    guard : bool, default=False
        Beyond the paper: train the learned students with the fallback guard
        (``on_divergence="fallback"`` of
        :class:`~sk_metabp.LearnedRuleMLPClassifier`), which hands a student
        whose error rises back to backprop. The summary's
        ``fell_back_learned`` is the share of students that fell back.
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
    >>> rep = run_experiments(["exp2"], n_seeds=2, quick=True)
    >>> sorted(set(rep.results["method"])), sorted(set(rep.results["seed"].tolist()))
    (['backprop', 'learned'], [0, 1])
    >>> rep.summary.loc[0, "verdict"] in ("reproduced", "partly", "not reproduced")
    True
    """
    n_seeds, experiments, learners = _prepare(
        experiments, n_seeds, curve_points, quick, learner
    )
    judge_options = dict(judge_options or {})
    report = _progress(verbose)
    started = time.perf_counter()
    workers = effective_n_jobs(n_jobs)
    estimators, fit_times = _fit_learners(
        experiments, learners, random_state, n_jobs, report
    )
    tasks = _student_tasks(
        experiments, estimators, n_seeds, workers, guard, curve_points
    )
    parts = _train_students(tasks, n_jobs, report)
    results = _results_frame(experiments, parts, curve_points)
    summary = _summary(experiments, estimators, fit_times, parts, judge_options)
    learner_curves = _learner_curves(experiments, estimators)
    settings = {
        "n_seeds": n_seeds,
        "n_jobs": n_jobs,
        "workers": workers,
        "quick": bool(quick),
        "learner": learner if isinstance(learner, str) else repr(learner),
        "curve_points": curve_points,
        "random_state": random_state,
        "judge_options": judge_options,
        "guard": bool(guard),
        "wall_time_s": time.perf_counter() - started,
    }
    return Reproduction(
        results, summary, learner_curves, estimators, experiments, settings
    )


def _prepare(experiments, n_seeds, curve_points, quick, learner):
    """Check the arguments; the experiments as run and a learner for each."""
    if (
        not isinstance(n_seeds, Integral)
        or isinstance(n_seeds, bool)
        or int(n_seeds) < 1
    ):
        raise ValueError(f"n_seeds must be an integer >= 1; got {n_seeds!r}.")
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
    return int(n_seeds), experiments, learners


def _fit_learners(experiments, learners, random_state, n_jobs, report):
    """Steps 1 and 2: one learner per experiment, the experiments over workers."""
    by_name = {e.name: e for e in experiments}
    estimators, fit_times = {}, {}
    fits = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_fit_learner)(e, learners[e.name], random_state) for e in experiments
    )
    for name, clf, elapsed in fits:
        e = by_name[name]
        estimators[name], fit_times[name] = clf, elapsed
        report(
            f"{name} {e.title}: learner {_learner_topology(clf)} fitted on "
            f"{len(clf.recorder_.features_):,} rows from {e.n_teacher_runs} teacher "
            f"runs of {e.epochs} epochs in {elapsed:.1f} s"
        )
    return estimators, fit_times


def _fit_learner(experiment, learner, random_state):
    """Record the teacher and fit the learner (in one worker)."""
    X, y, _, _ = experiment.load_data()
    # max_iter=1: fit trains one student epoch; the students proper are
    # trained as stacks by _train_batch
    clf = LearnedRuleMLPClassifier(
        hidden_layer_sizes=experiment.hidden_layer_sizes,
        learner=learner,
        variables=experiment.variables,
        teacher=experiment.teacher(),
        n_teacher_runs=experiment.n_teacher_runs,
        record_every=experiment.record_every,
        max_iter=1,
        random_state=random_state,
        n_jobs=1,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return experiment.name, clf, time.perf_counter() - start


def _student_tasks(experiments, estimators, n_seeds, workers, guard, curve_points):
    """Step 3's work: both methods' seeds in batches, the dearest batch first."""
    tasks = []
    n_batches = max(1, min(n_seeds, workers))
    for e in experiments:
        clf = copy.copy(estimators[e.name])
        clf.recorder_ = None  # the recording stays here; workers need the learner
        if guard:
            clf.on_divergence = "fallback"
        seeds = _student_seeds(n_seeds, estimators[e.name].recorder_.seeds_)
        keep = _curve_epochs(e.epochs, curve_points)
        for method in METHODS:
            for batch in _batches(seeds, n_batches):
                student = clf if method == "learned" else None
                tasks.append((e, method, student, batch, keep))
    # longest first, so that no worker is left with a long batch at the end
    tasks.sort(key=lambda t: -_cost(t[0], t[1]) * len(t[3]))
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
            f"{part['experiment']}: {part['method']:8s} seeds {s.min()}-{s.max()} "
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
            ["experiment", "method", "seed", "epoch"],
            key=lambda c: c.map(order) if c.name == "experiment" else c,
        )
        .reset_index(drop=True)
    )


def _summary(experiments, estimators, fit_times, parts, judge_options):
    """One judged row per experiment."""
    return pd.DataFrame(
        [
            _summarise(
                e,
                estimators[e.name],
                fit_times[e.name],
                [p for p in parts if p["experiment"] == e.name],
                judge_options,
            )
            for e in experiments
        ]
    )


def _learner_curves(experiments, estimators):
    """``experiment, epoch, loss``: each learner's training error."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "experiment": e.name,
                    "epoch": np.arange(1, len(curve) + 1),
                    "loss": curve,
                }
            )
            for e in experiments
            for curve in [_learner_curve(estimators[e.name])]
        ],
        ignore_index=True,
    )


def _summarise(experiment, clf, fit_time, parts, judge_options):
    curve = _learner_curve(clf)
    row = {
        "experiment": experiment.name,
        "title": experiment.title,
        "topology": experiment.topology,
        "epochs": experiment.epochs,
        "learner": _learner_topology(clf),
        "paper_learner": experiment.paper_learning_network,
        "learner_fit_s": fit_time,
        "learner_loss": curve[-1] if len(curve) else np.nan,
    }
    stats = {}
    for method in METHODS:
        done = [p for p in parts if p["method"] == method]
        final = np.concatenate([p["final_J"] for p in done])
        first = np.concatenate([p["first_J"] for p in done])
        diverged = np.concatenate([p["diverged"] for p in done])
        solved = np.concatenate([p["final_accuracy"] for p in done]) >= 1.0
        test = np.concatenate([p["final_test_accuracy"] for p in done])
        q1, med, q3 = _quartiles(final)
        rose = diverged | ~(final <= first)
        stats[method] = (med, solved.mean(), rose.mean())
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
    v = judge(
        experiment.expected,
        J_backprop=stats["backprop"][0],
        J_learned=stats["learned"][0],
        solved_backprop=stats["backprop"][1],
        solved_learned=stats["learned"][1],
        rose_backprop=stats["backprop"][2],
        rose_learned=stats["learned"][2],
        **judge_options,
    )
    row["claim"] = experiment.claim
    row["expected"] = experiment.expected
    row["verdict"] = v.verdict
    row["reason"] = v.reason
    return row


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


def _train_batch(experiment, method, clf, seeds, keep):
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


def _student_seeds(n_seeds, teacher_seeds):
    """The first ``n_seeds`` integers that no teacher run started from."""
    taken = {int(s) for s in teacher_seeds}
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
