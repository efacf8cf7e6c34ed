"""The paper's four experiments as data, and a runner that repeats them over seeds.

Each experiment is an :class:`Experiment`: the task, the basic network, the
teacher's settings, the sampled variables, the paper's learning network and the
paper's claim with the direction it expects. :func:`run_experiments` fits one
learner per experiment (the paper's steps 1 and 2), then trains many fresh
networks from different seeds with backprop and with the learned rule, as
lockstep stacks spread over joblib workers (step 3), and compares them.

The paper reports single runs. Here every comparison is over seeds: medians and
quartiles of the final error, the share of runs that classify every training
pattern correctly, and a verdict on the paper's claim from :func:`judge`, a
pure function of those numbers.

Settings the paper does not give are this library's choices; each
:class:`Experiment` lists them in ``choices`` and every one is a field that
:func:`dataclasses.replace` can change:

- experiments 2 to 4 use experiment 1's teacher rate 0.23; experiments 2 and
  3 train for 5000 epochs, as experiment 1;
- experiment 4 uses 200 training and 200 test points (:func:`make_squares`,
  inner square of half the area, data seed 0) and 200 epochs of online
  training (40,000 updates; backprop stays near its first error for about
  half of them, then slowly falls) and records one teacher update in 80 to
  keep the learner's fit short;
- the teacher is recorded over 32 seeds (``n_teacher_runs``), one update in
  40 kept (``record_every``);
- the learner is :func:`~sk_metabp.learned.default_learner` (32 hidden units;
  two layers of 64 at rate 0.01 for experiment 3's 17 outputs) unless
  ``learner="paper"`` asks for the paper's hidden sizes;
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
from dataclasses import dataclass, field, replace
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone

from ._mlp import forward
from .backprop import BackpropMLPClassifier, BackpropMLPRegressor
from .datasets import make_boolean, make_squares
from .learned import LearnedRuleMLPClassifier, default_learner

#: The verdicts :func:`judge` gives.
VERDICTS = ("reproduced", "partly", "not reproduced")

#: The directions a claim can take (``Experiment.expected``).
EXPECTATIONS = ("better", "comparable", "diverges")


@dataclass(frozen=True)
class Experiment:
    """One of the paper's experiments: task, networks, settings and claim.

    Parameters
    ----------
    name : str
        Short name, ``"exp1"`` to ``"exp4"``.
    title : str
        What the experiment trains, for tables and figures.
    task : {"and", "or", "squares"}
        A boolean function of :func:`~sk_metabp.datasets.make_boolean` or the
        inner-square problem of :func:`~sk_metabp.datasets.make_squares`.
    hidden_layer_sizes : tuple of int
        The basic network's hidden layers; ``()`` for none.
    learning_rate : float, default=0.23
        The teacher's (backprop's) rate, gamma.
    epochs : int, default=5000
        Training cycles of the teacher and of every student.
    variables : str, default="paper"
        The sampled variables: a preset of :mod:`sk_metabp._modes`.
    paper_learner_hidden : tuple of int, default=(2,)
        The hidden layer of the paper's learning network.
    paper_learning_network : str, default=""
        The paper's learning network, inputs-hidden-outputs.
    claim : str, default=""
        The paper's result, in its words.
    expected : {"better", "comparable", "diverges"}, default="better"
        The direction of the claim, as :func:`judge` tests it.
    n_train, n_test : int, default=200
        Points of the square task (unused by the boolean ones).
    data_seed : int, default=0
        Seeds the square task's points.
    n_teacher_runs : int, default=32
        Teacher runs recorded for the learner.
    record_every : int, default=40
        Keep one teacher update in this many.
    learner_hidden : tuple of int, default=(32,)
        Hidden layers of the default learner for this experiment.
    learner_rate : float, default=0.02
        The default learner's learning rate.
    choices : tuple of str, default=()
        Names of the fields above whose values the paper does not give (this
        library's choices).
    """

    name: str
    title: str
    task: str
    hidden_layer_sizes: tuple
    learning_rate: float = 0.23
    epochs: int = 5000
    variables: str = "paper"
    paper_learner_hidden: tuple = (2,)
    paper_learning_network: str = ""
    claim: str = ""
    expected: str = "better"
    n_train: int = 200
    n_test: int = 200
    data_seed: int = 0
    n_teacher_runs: int = 32
    record_every: int = 40
    learner_hidden: tuple = (32,)
    learner_rate: float = 0.02
    choices: tuple = field(default=())

    @property
    def n_outputs(self):
        """Output units: one for a boolean function, two for the squares."""
        return 2 if self.task == "squares" else 1

    @property
    def topology(self):
        """The basic network in the paper's notation: ``'2-1-1'``, ``'2-0-1'``."""
        hidden = self.hidden_layer_sizes or (0,)
        return "-".join(str(s) for s in (2, *hidden, self.n_outputs))

    def load_data(self):
        """The training (and test) data of the experiment.

        Returns
        -------
        X_train, y_train, X_test, y_test : ndarray
            ``X_test`` and ``y_test`` are None for the boolean tasks, which
            are judged on their four training patterns.
        """
        if self.task == "squares":
            X_tr, X_te, Y_tr, Y_te = make_squares(
                self.n_train, self.n_test, random_state=self.data_seed
            )
            return X_tr, Y_tr, X_te, Y_te
        X, y = make_boolean(self.task)
        return X, y, None, None

    def describe_settings(self):
        """The settings as text, each marked (paper) or (chosen here)."""
        names = ["learning_rate", "epochs", "variables", "n_teacher_runs"]
        names += ["record_every", "learner_hidden", "learner_rate"]
        if self.task == "squares":
            names += ["n_train", "n_test", "data_seed"]
        return ", ".join(
            f"{n}={getattr(self, n)!r} "
            f"({'chosen here' if n in self.choices else 'paper'})"
            for n in names
        )

    def quick(self):
        """A much smaller version of the experiment, for smoke tests.

        A few hundred epochs for the boolean tasks, 20 epochs on 60 points
        for the squares, 2 teacher runs.
        """
        if self.task == "squares":
            return replace(self, epochs=20, n_train=60, n_test=60, n_teacher_runs=2)
        return replace(self, epochs=300, n_teacher_runs=2)


#: Settings every experiment takes from this library, not from the paper.
_CHOSEN = ("n_teacher_runs", "record_every", "learner_hidden", "learner_rate")

#: The paper's experiments by name (``PAPER.md``, section "The four experiments").
EXPERIMENTS = {
    e.name: e
    for e in (
        Experiment(
            name="exp1",
            title="AND, 2-1-1",
            task="and",
            hidden_layer_sizes=(1,),
            epochs=5000,
            paper_learner_hidden=(2,),
            paper_learning_network="9-2-5",
            claim="The learning network achieved better convergence than the "
            "original backpropagation algorithm.",
            expected="better",
            choices=_CHOSEN,
        ),
        Experiment(
            name="exp2",
            title="AND, 2-0-1",
            task="and",
            hidden_layer_sizes=(),
            epochs=5000,
            paper_learner_hidden=(),
            paper_learning_network="7-0-3",
            claim="Performance comparable to backpropagation, although slightly "
            "worse than in the 1st experiment.",
            expected="comparable",
            choices=("learning_rate", "epochs", *_CHOSEN),
        ),
        Experiment(
            name="exp3",
            title="OR, 2-4-1",
            task="or",
            hidden_layer_sizes=(4,),
            epochs=5000,
            paper_learner_hidden=(3,),
            paper_learning_network="21-3-17",
            claim="Performance of the learning network is again better than "
            "original error backpropagation.",
            expected="better",
            # 17 outputs: one 32-unit layer fits them poorly (a quarter of the
            # students solve OR); two 64-unit layers at a lower rate fit them
            learner_hidden=(64, 64),
            learner_rate=0.01,
            choices=(
                "learning_rate",
                "epochs",
                *_CHOSEN,
                "learner_hidden",
                "learner_rate",
            ),
        ),
        Experiment(
            name="exp4",
            title="inner square, 2-5-2",
            task="squares",
            hidden_layer_sizes=(5,),
            epochs=200,
            variables="paper+h",
            paper_learner_hidden=(3,),
            paper_learning_network="38-3-27",
            claim="Training with the learning network diverges, while training "
            "with backpropagation stopped on some level but did not diverge.",
            expected="diverges",
            record_every=80,
            choices=(
                "learning_rate",
                "epochs",
                "n_train",
                "n_test",
                "data_seed",
                *_CHOSEN,
            ),
        ),
    )
}


# --- the verdict -----------------------------------------------------------------


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
    better_factor=0.8,
    comparable_factor=2.0,
    share_tolerance=0.1,
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
    better_factor : float, default=0.8
        "Better" needs the learned median at most this times backprop's.
    comparable_factor : float, default=2.0
        "Comparable" medians lie within this factor of each other.
    share_tolerance : float, default=0.1
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


# --- the runner --------------------------------------------------------------------


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


def resolve_experiments(experiments=None):
    """Experiments from names (``"exp1"`` or ``"1"``), objects, or None for all.

    Raises
    ------
    ValueError
        For an unknown name, naming the known ones.
    """
    if experiments is None:
        return tuple(EXPERIMENTS.values())
    if isinstance(experiments, (str, Experiment)):
        experiments = [experiments]
    out = []
    for e in experiments:
        if isinstance(e, Experiment):
            out.append(e)
            continue
        key = str(e).strip().lower()
        key = f"exp{key}" if key.isdigit() else key
        if key not in EXPERIMENTS:
            raise ValueError(
                f"Unknown experiment {e!r}; choose from {list(EXPERIMENTS)} "
                "(or their numbers 1-4)."
            )
        out.append(EXPERIMENTS[key])
    if not out:
        raise ValueError("No experiment to run.")
    return tuple(out)


def make_learner(experiment, learner="default"):
    """The learner to fit for ``experiment``.

    Parameters
    ----------
    experiment : Experiment
    learner : "default", "paper" or regressor, default="default"
        ``"default"`` is :func:`~sk_metabp.learned.default_learner` (32
        hidden units); ``"paper"`` is the same regressor with the paper's hidden
        layer for this experiment (2, 0, 3 or 3 units; mini-batches, not the
        paper's online rate 0.198, which the paper ran for 200 cycles but which
        would take minutes on the larger recordings); a regressor is cloned.
    """
    if isinstance(learner, str):
        if learner == "default":
            return default_learner().set_params(
                hidden_layer_sizes=experiment.learner_hidden,
                learning_rate_init=experiment.learner_rate,
            )
        if learner == "paper":
            return default_learner().set_params(
                hidden_layer_sizes=experiment.paper_learner_hidden
            )
        raise ValueError(
            f"learner must be 'default', 'paper' or a regressor; got {learner!r}."
        )
    if not (hasattr(learner, "fit") and hasattr(learner, "predict")):
        raise TypeError(
            f"learner must be 'default', 'paper' or a regressor; got {learner!r}."
        )
    return clone(learner)


def _learner_topology(clf):
    learner = clf.learner_
    hidden = getattr(learner, "hidden_layer_sizes", None)
    if hidden is None:
        return type(learner).__name__
    hidden = () if tuple(np.atleast_1d(hidden)) == () else np.atleast_1d(hidden)
    sizes = (clf.mode_.n_features, *hidden, clf.mode_.n_targets)
    return "-".join(str(int(s)) for s in sizes)


def _fit_learner(experiment, learner, random_state):
    """Steps 1 and 2: record the teacher and fit the learner (one worker)."""
    X, y, _, _ = experiment.load_data()
    teacher = BackpropMLPClassifier(
        hidden_layer_sizes=experiment.hidden_layer_sizes,
        learning_rate_init=experiment.learning_rate,
        max_iter=experiment.epochs,
    )
    # max_iter=1: fit trains one student epoch; the students proper are
    # trained as stacks by _train_batch
    clf = LearnedRuleMLPClassifier(
        hidden_layer_sizes=experiment.hidden_layer_sizes,
        learner=learner,
        variables=experiment.variables,
        teacher=teacher,
        n_teacher_runs=experiment.n_teacher_runs,
        record_every=experiment.record_every,
        max_iter=1,
        random_state=random_state,
        n_jobs=1,
    )
    start = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - start


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
    """Step 3 for one stack of seeds: train, keep curves and accuracies."""
    X, y, X_test, y_test = experiment.load_data()
    backprop = BackpropMLPClassifier(
        hidden_layer_sizes=experiment.hidden_layer_sizes,
        learning_rate_init=experiment.learning_rate,
        max_iter=experiment.epochs,
    )
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
    for method in ("backprop", "learned"):
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


def _progress(verbose):
    if callable(verbose):
        return verbose
    if not verbose:
        return lambda message: None
    start = time.perf_counter()

    def report(message):
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    return report


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
    if (
        not isinstance(n_seeds, Integral)
        or isinstance(n_seeds, bool)
        or int(n_seeds) < 1
    ):
        raise ValueError(f"n_seeds must be an integer >= 1; got {n_seeds!r}.")
    if not isinstance(curve_points, Integral) or curve_points < 2:
        raise ValueError(f"curve_points must be an integer >= 2; got {curve_points!r}.")
    n_seeds = int(n_seeds)
    experiments = resolve_experiments(experiments)
    if quick:
        experiments = tuple(e.quick() for e in experiments)
    judge_options = dict(judge_options or {})
    report = _progress(verbose)
    started = time.perf_counter()
    learners = {}
    for e in experiments:
        learners[e.name] = make_learner(e, learner)
        if quick and isinstance(learners[e.name], BackpropMLPRegressor):
            learners[e.name].set_params(max_iter=min(20, learners[e.name].max_iter))
    workers = effective_n_jobs(n_jobs)
    by_name = {e.name: e for e in experiments}
    if len(by_name) != len(experiments):
        raise ValueError("Each experiment may be run only once per call.")

    # steps 1-2: one learner per experiment, the experiments spread over workers
    estimators, fit_times = {}, {}
    fits = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_fit_with_name)(e, learners[e.name], random_state) for e in experiments
    )
    for name, clf, elapsed in fits:
        e = by_name[name]
        estimators[name], fit_times[name] = clf, elapsed
        rec = clf.recorder_
        report(
            f"{name} {e.title}: learner {_learner_topology(clf)} fitted on "
            f"{len(rec.features_):,} rows from {e.n_teacher_runs} teacher runs of "
            f"{e.epochs} epochs in {elapsed:.1f} s"
        )

    # step 3: students, both methods, in seed batches over the workers
    tasks = []
    n_batches = max(1, min(n_seeds, workers))
    for e in experiments:
        clf = copy.copy(estimators[e.name])
        clf.recorder_ = None  # the recording stays here; workers need the learner
        if guard:
            clf.on_divergence = "fallback"
        seeds = _student_seeds(n_seeds, estimators[e.name].recorder_.seeds_)
        keep = _curve_epochs(e.epochs, curve_points)
        for method in ("backprop", "learned"):
            for batch in _batches(seeds, n_batches):
                student = clf if method == "learned" else None
                tasks.append((e, method, student, batch, keep))
    # longest first, so that no worker is left with a long batch at the end
    tasks.sort(key=lambda t: -_cost(t[0], t[1]) * len(t[3]))
    parts = []
    runs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_train_batch)(*task) for task in tasks
    )
    for part in runs:
        parts.append(part)
        s = part["seeds"]
        report(
            f"{part['experiment']}: {part['method']:8s} seeds {s.min()}-{s.max()} "
            f"({len(s)} networks x {by_name[part['experiment']].epochs} epochs) in "
            f"{part['time']:.1f} s, median final J {np.nanmedian(part['final_J']):.3g}"
        )

    frames = []
    for p in parts:
        keep = _curve_epochs(by_name[p["experiment"]].epochs, curve_points)
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
    results = (
        pd.concat(frames, ignore_index=True)
        .sort_values(
            ["experiment", "method", "seed", "epoch"],
            key=lambda c: c.map(order) if c.name == "experiment" else c,
        )
        .reset_index(drop=True)
    )
    summary = pd.DataFrame(
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
    learner_curves = pd.concat(
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


def _learner_curve(clf):
    """The learner's training error, empty for a learner that keeps none."""
    return np.asarray(getattr(clf.learner_, "loss_curve_", []), dtype=float)


def _fit_with_name(experiment, learner, random_state):
    clf, elapsed = _fit_learner(experiment, learner, random_state)
    return experiment.name, clf, elapsed


# --- reporting ---------------------------------------------------------------------


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
        "stacks; the paper's experiment 1 took 0.408 s with backprop and 3.781 s "
        "with the learning network (ratio 9.3).",
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
        "each learned change bounded to [-1, 1]; students start from seeds that "
        "no teacher run used, and the two methods' students of a seed start "
        "from the same weights.",
        f"- Verdict rule (`sk_metabp.experiments.judge`): 'better' needs the "
        f"learned median J at most "
        f"{st['judge_options'].get('better_factor', 0.8)} times backprop's, "
        "'comparable' within a factor "
        f"{st['judge_options'].get('comparable_factor', 2.0)}; 'diverges' needs "
        "the learned error to rise in most runs while backprop's does not and "
        "backprop solves fewer than half of the runs.",
        "",
    ]
    return "\n".join(lines)
