"""Benchmark: how well learned update rules transfer to tasks they never saw.

For each task of the suite, networks of the task's topology are trained for the
same number of epochs, from the same seeds, by these update rules:

- ``backprop``: the paper's online backprop (rate 0.23);
- ``network``: a network-mode rule fitted on that very task (the paper's way);
- ``link-and``: a link-mode rule fitted on AND (2-1-1) only;
- ``link-multi``: a link-mode rule fitted on the union of link-mode recordings
  of AND (2-1-1), OR (2-4-1) and XOR (2-2-1);
- ``residual``: a residual link-mode rule (it predicts the change beyond
  backprop's step, so a learner fitted on backprop's recordings starts as
  backprop) refined by trial and error (:func:`sk_metabp.refine.refine_learner`)
  on the same three boolean tasks and four small synthetic tasks of other
  shapes, keeping the weights with the best geometric mean of the losses on
  three held-out synthetic tasks;
- ``odd``: the same learner refined with ``target="residual_odd"`` (only the
  part of its prediction that turns with the error is used, so the rule makes
  no change where the error is 0), larger search steps, and two more held-out
  tasks (no hidden layer; 20 inputs), keeping the weights least worse than
  backprop on their worst held-out task (``validation_score="worst_ratio"``);
  see :data:`RECIPES`. None of the synthetic tasks is in the suite;
- ``+guard``: a rule with the fallback guard (``on_divergence="fallback"``):
  a student whose epoch loss rises past ``1 + fallback_tol`` times its best
  goes back to its best epoch's weights and is trained by backprop from there.

The link rules read the normalised link variables (:data:`VARIABLES`): each
quantity over its rms across the link's layer, and the layer's scale apart.
``link-and`` and ``link-multi`` predict the change in units of the layer's
scale (``target="scaled"``); see :class:`sk_metabp._modes.LinkMode`.

The suite: the paper's four tasks (AND 2-1-1, AND 2-0-1, OR 2-4-1, the inner
square 2-5-2), XOR 2-2-1, 3-bit parity, and, with a train/test split and
standardised inputs, scikit-learn's two moons, iris, wine and breast cancer.
Each cell is the median over ``--seeds`` students of the final training loss
(J averaged over the last epoch's patterns) and the accuracy: on the test set
where there is one, on the training set otherwise (boolean tasks, parity).

Targets: a link-mode rule reaches >= 95% of backprop's accuracy on 4 or more
tasks it never saw; the refined rule's final training loss is below backprop's
on >= 3 tasks and no worse than backprop's on every task it was not refined on
(judged for each refined rule, with and without the guard).

Run ``python benchmarks/bench_transfer.py [--quick] [--seeds N]``.
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    load_wine,
    make_circles,
    make_classification,
    make_moons,
)
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean, make_parity, make_squares
from sk_metabp.learned import default_learner
from sk_metabp.recorder import TrajectoryRecorder
from sk_metabp.refine import refine_learner

RATE = 0.23
ACCURACY_SHARE = 0.95
MIN_UNSEEN_TASKS = 4
MIN_BETTER_LOSS = 3
#: the tasks the multi-task link rule is recorded on, and refined on
MULTI_TASKS = ("and 2-1-1", "or 2-4-1", "xor 2-2-1")
#: the link rules' variables: normalised per layer, one rule for any shape
VARIABLES = (
    "w",
    "a_n",
    "delta_n",
    "err_n",
    "log_scale",
    "is_bias",
    "is_output",
    "depth",
)
#: refinement trains students for this many epochs on every task; the boolean
#: tasks' four patterns are repeated so that an epoch has about as many updates
#: as the synthetic tasks'
REFINE_EPOCHS = 50
#: the two refinements: (target, search settings, whether the extra held-out
#: tasks are used). The odd part of a residual learner moves a student less
#: than the whole, and needs larger steps; choosing by the worst ratio to
#: backprop needs held-out tasks of the depths and fan-ins it must not harm.
RECIPES = {
    "residual": ("residual", dict(sigma=0.02, step_size=0.05), False),
    "odd": (
        "residual_odd",
        dict(sigma=0.1, step_size=0.5, validation_score="worst_ratio"),
        True,
    ),
}
BOOLEAN_REPEATS = 12


def _split(X, y, seed):
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def make_suite(quick):
    """The tasks: name -> (X_train, y_train, X_test or None, y_test, hidden, epochs).

    The small boolean tasks need many epochs of online learning (the paper runs
    5000); the larger sets have many patterns per epoch and need fewer.
    """
    scale = 4 if quick else 1
    boolean = 1000 // scale
    suite = {}
    for name, fn, hidden in [
        ("and 2-1-1", "and", (1,)),
        ("and 2-0-1", "and", ()),
        ("or 2-4-1", "or", (4,)),
        ("xor 2-2-1", "xor", (2,)),
    ]:
        X, y = make_boolean(fn)
        suite[name] = (X, y, None, None, hidden, boolean)
    X, y = make_parity(3)
    suite["parity 3-3-1"] = (X, y, None, None, (3,), boolean)
    X_tr, X_te, Y_tr, Y_te = make_squares(200, 200, random_state=0)
    suite["squares 2-5-2"] = (X_tr, Y_tr, X_te, Y_te, (5,), 200 // scale)
    X, y = make_moons(200, noise=0.2, random_state=0)
    suite["moons 2-4-1"] = (*_split(X, y, 0), (4,), 200 // scale)
    for name, loader, epochs in [
        ("iris 4-4-3", load_iris, 100),
        ("wine 13-4-3", load_wine, 100),
        ("cancer 30-4-1", load_breast_cancer, 40),
    ]:
        X, y = loader(return_X_y=True)
        suite[name] = (*_split(X, y, 0), (4,), epochs // scale)
    return suite


def _evaluate(clf, X, y, X_test, y_test, seeds, rule, epochs):
    """Train one student per seed in lockstep: median final loss and accuracy,
    and the numbers of students that diverged and that fell back to backprop.

    ``clf`` sets up the students (topology, encoding); ``rule`` is None for
    backprop. A diverged student scores an infinite loss.
    """
    students = clf.train_students(
        clf.training_data(X, y), seeds, rule=rule, max_iter=epochs
    )
    curves, n_iter = students.loss_curves, students.n_iter
    done = (n_iter == epochs) & (students.diverged < 0)
    loss = np.where(done, curves[:, -1] if curves.shape[1] else np.nan, np.inf)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    X_eval, y_eval = (X, y) if X_test is None else (X_test, y_test)
    acc = [students.estimator(k).score(X_eval, y_eval) for k in range(len(seeds))]
    fell_back = int((getattr(students.rule, "fell_back", np.array([-1])) >= 0).sum())
    return np.median(loss), np.median(acc), int((~done).sum()), fell_back


def _learned(learner, target, hidden, epochs, X, y, guard=False):
    clf = LearnedRuleMLPClassifier(
        hidden,
        learner=FrozenEstimator(learner),
        mode="link",
        variables=VARIABLES,
        target=target,
        max_iter=epochs,
        on_divergence="fallback" if guard else "warn",
    )
    clf.fit_learner(X, y)
    return clf, clf.update_rule()


def _synthetic(n_features, n_classes, seed, n=60):
    X, y = make_classification(
        n,
        n_features,
        n_informative=min(n_features, 4),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def refine_tasks():
    """Refinement's training, held-out and extra held-out tasks: (X, y, hidden).

    The three boolean tasks (repeated, see :data:`BOOLEAN_REPEATS`), and small
    synthetic tasks of other fan-ins, class counts and output counts: none of
    them is in the suite.
    """
    train = []
    for fn, hidden in [("and", (1,)), ("or", (4,)), ("xor", (2,))]:
        X, y = make_boolean(fn)
        train.append(
            (np.tile(X, (BOOLEAN_REPEATS, 1)), np.tile(y, BOOLEAN_REPEATS), hidden)
        )
    train.append((*_synthetic(5, 2, 1), (3,)))
    train.append((*_synthetic(8, 3, 2), (4,)))
    rng = np.random.RandomState(5)
    X = rng.uniform(size=(60, 2))
    train.append((X, (X > 0.5).astype(int), (4,)))  # two outputs: the quadrants
    X, y = make_circles(60, noise=0.1, factor=0.5, random_state=6)
    train.append((X, y, (4,)))
    # held out: two more fan-ins, and two outputs over centred bands
    X = rng.uniform(size=(100, 2))
    bands = (np.abs(X - 0.5) < 0.25).astype(int)
    held_out = [
        (*_synthetic(12, 2, 3), (4,)),
        (*_synthetic(6, 3, 4), (5,)),
        (X, bands, (5,)),
    ]
    # extra held-out: no hidden layer, and a fan-in of 20
    extra = [(*_synthetic(4, 2, 11), ()), (*_synthetic(20, 2, 12), (4,))]
    return train, held_out, extra


def _multi_recording(suite, runs, target):
    features, targets, names = [], [], None
    for name in MULTI_TASKS:
        X, y, _, _, hidden, epochs = suite[name]
        rec = TrajectoryRecorder(
            BackpropMLPClassifier(hidden, learning_rate_init=RATE, max_iter=epochs),
            mode="link",
            variables=VARIABLES,
            target=target,
            n_runs=runs,
            every=10,
            random_state=0,
        ).fit(X, y)
        features.append(rec.features_)
        targets.append(rec.targets_)
        names = rec.feature_names_
    return default_learner().fit(
        pd.DataFrame(np.concatenate(features), columns=names),
        np.concatenate(targets),
    )


def fit_rules(suite, quick, n_jobs, verbose):
    """The task-independent link rules and the refined ones: (learner, target)."""
    runs = 2 if quick else 8
    X, y, _, _, hidden, epochs = suite["and 2-1-1"]
    link_and = (
        LearnedRuleMLPClassifier(
            hidden,
            mode="link",
            variables=VARIABLES,
            target="scaled",
            max_iter=epochs,
            n_teacher_runs=runs,
            random_state=0,
        )
        .fit(X, y)
        .learner_
    )
    link_multi = _multi_recording(suite, runs, "scaled")
    # backprop's residual targets are 0: the fitted learner's outputs are small,
    # and it starts as backprop
    residual = _multi_recording(suite, runs, "residual")
    train, held_out, extra = refine_tasks()
    rules = {"link-and": (link_and, "scaled"), "link-multi": (link_multi, "scaled")}
    for name, (target, settings, more) in RECIPES.items():
        if verbose:
            print(f"refining the {name} rule (target={target!r}, {settings})")
        refined = refine_learner(
            residual,
            train,
            validation=held_out + extra if more else held_out,
            mode="link",
            variables=VARIABLES,
            target=target,
            n_generations=4 if quick else 12,
            population=4 if quick else 8,
            n_epochs=REFINE_EPOCHS,
            n_students=2 if quick else 4,
            n_jobs=n_jobs,
            random_state=0,
            verbose=verbose,
            **settings,
        )
        rules[name] = rules[name + "+guard"] = (refined, target)
    return rules


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and runs")
    parser.add_argument("--seeds", type=int, default=None, help="students per cell")
    parser.add_argument("--n-jobs", type=int, default=None, help="workers for refine")
    args = parser.parse_args(argv)
    n_seeds = args.seeds or (3 if args.quick else 10)
    seeds = list(range(n_seeds))
    warnings.simplefilter("ignore")  # divergence warnings: counted in the table

    t0 = time.perf_counter()
    suite = make_suite(args.quick)
    rules = fit_rules(suite, args.quick, args.n_jobs, verbose=True)
    print(f"rules fitted in {time.perf_counter() - t0:.1f} s\n")

    refined = ["residual", "residual+guard", "odd", "odd+guard"]
    seen = {
        "network": set(suite),  # fitted on each task itself
        "link-and": {"and 2-1-1"},
        "link-multi": set(MULTI_TASKS),
        **{method: set(MULTI_TASKS) for method in refined},
    }
    rows = []
    for name, (X, y, X_te, y_te, hidden, epochs) in suite.items():
        t = time.perf_counter()
        row = {"task": name, "epochs": epochs}
        base = BackpropMLPClassifier(hidden, learning_rate_init=RATE, max_iter=epochs)
        row["backprop"] = _evaluate(base, X, y, X_te, y_te, seeds, None, epochs)
        net = LearnedRuleMLPClassifier(
            hidden,
            mode="network",
            max_iter=epochs,
            n_teacher_runs=2 if args.quick else 8,
            random_state=0,
        )
        net.fit_learner(X, y)
        row["network"] = _evaluate(
            net, X, y, X_te, y_te, seeds, net.update_rule(), epochs
        )
        for method in ("link-and", "link-multi", *refined):
            guard = method.endswith("+guard")
            clf, rule = _learned(*rules[method], hidden, epochs, X, y, guard=guard)
            row[method] = _evaluate(clf, X, y, X_te, y_te, seeds, rule, epochs)
        rows.append(row)
        print(f"  {name}: {time.perf_counter() - t:.1f} s", flush=True)

    acc_kind = "test accuracy (training accuracy on boolean tasks and parity)"
    print(
        f"\nmedian over {n_seeds} seeds; loss = final training loss; acc = {acc_kind}"
    )
    print(
        "d = diverged students (for +guard: students that fell back to backprop);"
        " epochs equal across rules on each task"
    )
    for methods in (
        ["backprop", "network", "link-and", "link-multi"],
        ["backprop", *refined],
    ):
        print()
        print(f"{'task':<14}{'ep':>5}" + "".join(f"{m:>21}" for m in methods))
        print(f"{'':<19}" + "".join(f"{'loss    acc   d':>21}" for _ in methods))
        for row in rows:
            cells = "".join(
                f"{row[m][0]:>12.4g}{row[m][1]:>6.3f}"
                f"{row[m][3 if m.endswith('+guard') else 2]:>3d}"
                for m in methods
            )
            print(f"{row['task']:<14}{row['epochs']:>5}{cells}")

    print()
    for method in ("link-and", "link-multi"):
        unseen = [r for r in rows if r["task"] not in seen[method]]
        ok = [
            r["task"]
            for r in unseen
            if r[method][1] >= ACCURACY_SHARE * r["backprop"][1]
        ]
        met = len(ok) >= MIN_UNSEEN_TASKS
        print(
            f"target {'MET' if met else 'NOT met'}: {method} reaches >= "
            f"{ACCURACY_SHARE:.0%} of backprop's accuracy on {len(ok)} of "
            f"{len(unseen)} unseen tasks (need {MIN_UNSEEN_TASKS}): {ok}"
        )
    for method in refined:
        better = [r["task"] for r in rows if r[method][0] < r["backprop"][0]]
        worse_unseen = [
            r["task"]
            for r in rows
            if r["task"] not in seen[method] and r[method][0] > r["backprop"][0]
        ]
        print(
            f"target {'MET' if len(better) >= MIN_BETTER_LOSS else 'NOT met'}: "
            f"{method} final training loss below backprop's on {len(better)} "
            f"tasks (need {MIN_BETTER_LOSS}): {better}"
        )
        print(
            f"target {'MET' if not worse_unseen else 'NOT met'}: {method} no worse "
            f"than backprop on every unseen task; worse on {worse_unseen}"
        )
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
