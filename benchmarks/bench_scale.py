"""Benchmark: backprop and a link-mode learned rule at the size of real data.

Per-epoch time and peak memory of training one network, in one process, side
by side with scikit-learn's ``MLPClassifier``:

- ``backprop``: :class:`~sk_metabp.BackpropMLPClassifier` (rate 0.23, no
  momentum, patterns in the order given);
- ``link`` and ``link f32``: :class:`~sk_metabp.LearnedRuleMLPClassifier` in
  link mode, a rule with the normalised variables fitted on AND (a frozen
  learner, the default 32 hidden units: only the student's training is
  timed), its learner's forward pass in float64 (exact) or float32
  (``learner_dtype="float32"``); ``narrow f32``: the same with a learner of
  ``--width`` (16) hidden units, float32; ``relu f32``: the same with a
  32-unit learner of relu units (``activation="relu"``), float32, whose
  forward pass takes a ``maximum`` where the default takes a ``tanh``;
- ``sk sgd``: ``MLPClassifier(solver="sgd")`` at the same batch size,
  ``momentum=0``, ``nesterovs_momentum=False``, ``learning_rate_init=0.23``,
  no L2 penalty, no shuffling; ``sk adam``: its default adam at the same batch
  size. Both with logistic units, and every epoch run.

Tasks: ``make_classification(n, n_features=64, n_informative=32,
n_classes=10, random_state=0)``, standardised, on a 64-32-10 network (2,410
links), on a 64-32-32-10 network (3,466 links), and with 20,000 rows (ten
times the data: the time per epoch should grow tenfold). Each at batch sizes
1 and 32. Times are medians of ``--repeats`` runs, the methods taking turns;
peak memory is the peak of memory traced by ``tracemalloc`` during one
``fit`` (numpy's arrays included).

Targets: link / backprop per epoch <= 6 online and <= 3 at batch 32 (the
float32 learner); backprop / sk sgd <= 0.3 at both batch sizes. The last line
says which were met, for the default learner, the narrow one and the relu one.

``--accuracy`` instead trains students at batch 32 on the tasks of
``bench_transfer.py`` that have a test split (same epochs and seeds for every
rule) and prints the median test accuracy of backprop and of link rules fitted
at batch 32 with ``g_n`` (a teacher recorded at batch 32): on the task itself,
and on a synthetic task none of them is (also with a ``--width``-unit learner:
``syn narrow``); and of the online rule fitted on AND, used at batch 32.
Target: a rule fitted at batch 32 reaches >= 95% of backprop's test accuracy.

``--float32`` trains one student with the float64 learner and one with the
float32 learner from the same start on the 64-32-10 task (1,500 rows; 500 held
out), online and at batch 32, and prints how far their final losses and
weights differ, and their test accuracies.

``--widths 32,16`` fits ``--fits`` AND rules per learner width (each fit its
own teachers and learner initialisation) and prints the median test accuracy
of their float32 students, online, on the tasks above with a test split and
on the 64-32-10 task: what a narrower, faster learner costs in quality. With
``--activations logistic,relu`` each width is fitted with each hidden
activation of the learner: what a relu learner costs.

BLAS runs on ``--threads`` threads (default 1: on a shared machine a
multi-threaded BLAS call on a small product waits for a free core).

Run ``python benchmarks/bench_scale.py [--repeats 5] [--quick] [--cpu]
[--accuracy] [--float32] [--widths 32,16 [--fits 4] [--activations
logistic,relu]] [--width 16]``.
"""

import argparse
import itertools
import platform
import statistics
import time
import tracemalloc
import warnings

import numpy as np
import sklearn

# the link variables of the sibling benchmark, one definition for both
from bench_transfer import VARIABLES
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean
from sk_metabp.learned import default_learner

RATE = 0.23
TARGET_ONLINE, TARGET_BATCH, TARGET_SKLEARN = 6.0, 3.0, 0.3
ACCURACY_SHARE = 0.95
#: the link rules' variables: bench_transfer.py's normalised ones, and g_n,
#: the batch-mean gradient in units of its layer's scale
BATCH_VARIABLES = (*VARIABLES, "g_n")


def make_task(n_rows):
    X, y = make_classification(
        n_rows, n_features=64, n_informative=32, n_classes=10, random_state=0
    )
    return StandardScaler().fit_transform(X), y


def and_rule(width=None, activation="logistic"):
    """A link-mode learner fitted on AND (2-1-1), as in bench_transfer.py; with
    ``width`` or ``activation``, the default learner with that many hidden
    units or that activation."""
    X, y = make_boolean("and")
    learner = None
    if width is not None or activation != "logistic":
        learner = default_learner().set_params(activation=activation)
        if width is not None:
            learner.set_params(hidden_layer_sizes=(width,))
    return (
        LearnedRuleMLPClassifier(
            (1,),
            mode="link",
            variables=VARIABLES,
            target="scaled",
            max_iter=1000,
            n_teacher_runs=8,
            learner=learner,
            random_state=0,
        )
        .fit(X, y)
        .learner_
    )


def methods(hidden, batch, epochs, rule, narrow, relu):
    """name -> an unfitted estimator, for one task and batch size; ``rule`` and
    ``narrow`` are the fitted learners of 32 and ``--width`` hidden units,
    ``relu`` the one of 32 relu units."""
    sk = dict(
        hidden_layer_sizes=hidden,
        activation="logistic",
        batch_size=batch,
        shuffle=False,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        max_iter=epochs,
        random_state=0,
    )
    link = dict(
        learner=FrozenEstimator(rule),
        mode="link",
        variables=VARIABLES,
        target="scaled",
        batch_size=batch,
        max_iter=epochs,
        random_state=0,
    )
    return {
        "backprop": BackpropMLPClassifier(
            hidden, learning_rate_init=RATE, batch_size=batch, max_iter=epochs
        ).set_params(random_state=0),
        "link": LearnedRuleMLPClassifier(hidden, **link),
        "link f32": LearnedRuleMLPClassifier(hidden, learner_dtype="float32", **link),
        "narrow f32": LearnedRuleMLPClassifier(
            hidden,
            learner_dtype="float32",
            **{**link, "learner": FrozenEstimator(narrow)},
        ),
        "relu f32": LearnedRuleMLPClassifier(
            hidden,
            learner_dtype="float32",
            **{**link, "learner": FrozenEstimator(relu)},
        ),
        "sk sgd": MLPClassifier(
            solver="sgd",
            learning_rate_init=RATE,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            **sk,
        ),
        "sk adam": MLPClassifier(**sk),
    }


def fit_seconds(est, X, y, clock):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = clock()
        est.fit(X, y)
        return clock() - start


def peak_mib(est, X, y):
    tracemalloc.start()
    try:
        fit_seconds(est, X, y, time.perf_counter)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def timing(args):
    clock = time.process_time if args.cpu else time.perf_counter
    repeats = 2 if args.quick else args.repeats
    rule, narrow, relu = and_rule(), and_rule(args.width), and_rule(activation="relu")
    small, large = make_task(2000), make_task(20000)
    # (task, X, y, hidden, epochs at batch 1, epochs at batch 32)
    tasks = [
        ("64-32-10, 2k rows", *small, (32,), 2, 20),
        ("64-32-32-10, 2k rows", *small, (32, 32), 2, 20),
        ("64-32-10, 20k rows", *large, (32,), 1, 2),
    ]
    if args.quick:
        tasks = tasks[:1]
    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, Python "
        f"{platform.python_version()}; BLAS threads {args.threads}; median of "
        f"{repeats} runs, {'CPU' if args.cpu else 'wall-clock'} ms per epoch; "
        f"peak traced MiB of one fit; narrow: a {args.width}-unit learner\n"
    )
    names = list(methods((1,), 1, 1, rule, narrow, relu))
    ratios = {
        "link/bp": "link",
        "f32/bp": "link f32",
        "nar/bp": "narrow f32",
        "relu/bp": "relu f32",
    }
    head = f"{'task':<22}{'B':>4}" + "".join(f"{n:>11}" for n in names)
    head += "".join(f"{r:>8}" for r in ratios) + f"{'bp/sgd':>8}"
    print(head)
    print("-" * len(head))
    met = {"link f32": True, "narrow f32": True, "relu f32": True, "bp/sgd": True}
    for task, X, y, hidden, *epochs in tasks:
        for batch, n_epochs in zip((1, 32), epochs):
            ests = methods(hidden, batch, n_epochs, rule, narrow, relu)
            times = {n: [] for n in ests}
            for _ in range(repeats):  # the methods take turns
                for name, est in ests.items():
                    times[name].append(fit_seconds(est, X, y, clock) / n_epochs)
            ms = {n: 1e3 * statistics.median(t) for n, t in times.items()}
            mem = {n: peak_mib(est, X, y) for n, est in ests.items()}
            ratio = {r: ms[n] / ms["backprop"] for r, n in ratios.items()}
            sgd = ms["backprop"] / ms["sk sgd"]
            target = TARGET_ONLINE if batch == 1 else TARGET_BATCH
            met["link f32"] &= ratio["f32/bp"] <= target
            met["narrow f32"] &= ratio["nar/bp"] <= target
            met["relu f32"] &= ratio["relu/bp"] <= target
            met["bp/sgd"] &= sgd <= TARGET_SKLEARN
            print(
                f"{task:<22}{batch:>4}"
                + "".join(f"{ms[n]:>11.1f}" for n in names)
                + "".join(f"{r:>8.2f}" for r in ratio.values())
                + f"{sgd:>8.2f}"
            )
            print(f"{'  peak MiB':<26}" + "".join(f"{mem[n]:>11.1f}" for n in names))
    print(
        f"\ntargets: link / bp <= {TARGET_ONLINE} online, <= {TARGET_BATCH} at batch "
        f"32; bp/sgd <= {TARGET_SKLEARN}. Met: "
        + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in met.items())
    )


def accuracy(args):
    """Test accuracy at batch 32 on bench_transfer.py's tasks with a test split."""
    from bench_transfer import make_suite

    seeds = list(range(3 if args.quick else args.seeds))
    batch = 32
    common = dict(
        mode="link",
        variables=BATCH_VARIABLES,
        target="scaled",
        batch_size=batch,
        n_teacher_runs=2 if args.quick else 8,
        random_state=0,
    )
    # a synthetic task of another shape, none of the suite's
    X_syn, y_syn = make_classification(
        400, 8, n_informative=5, n_redundant=0, n_classes=3, random_state=7
    )
    X_syn = StandardScaler().fit_transform(X_syn)
    synthetic = LearnedRuleMLPClassifier((6,), max_iter=100, **common)
    synthetic = synthetic.fit(X_syn, y_syn).learner_
    narrow = LearnedRuleMLPClassifier(
        (6,),
        max_iter=100,
        learner=default_learner().set_params(hidden_layer_sizes=(args.width,)),
        **common,
    )
    narrow = narrow.fit(X_syn, y_syn).learner_
    online = and_rule()  # fitted online on AND, without g_n
    suite = {k: v for k, v in make_suite(args.quick).items() if v[2] is not None}
    print(
        f"batch {batch}; median test accuracy over {len(seeds)} seeds, equal "
        "epochs; rules: link, scaled target, variables " + ", ".join(BATCH_VARIABLES)
    )
    labels = ["backprop", "own rule", "synthetic", "syn narrow", "AND online"]
    head = f"{'task':<16}{'ep':>5}" + "".join(f"{n:>12}" for n in labels)
    print(head)
    print("-" * len(head))
    met = {label: [] for label in labels[1:]}
    for name, (X, y, X_te, y_te, hidden, epochs) in suite.items():
        bp = BackpropMLPClassifier(
            hidden, learning_rate_init=RATE, batch_size=batch, max_iter=epochs
        )
        own = LearnedRuleMLPClassifier(hidden, max_iter=epochs, **common)
        own.fit_learner(X, y)
        syn = LearnedRuleMLPClassifier(
            hidden, max_iter=epochs, **{**common, "learner": FrozenEstimator(synthetic)}
        )
        syn.fit_learner(X, y)
        nar = LearnedRuleMLPClassifier(
            hidden, max_iter=epochs, **{**common, "learner": FrozenEstimator(narrow)}
        )
        nar.fit_learner(X, y)
        old = LearnedRuleMLPClassifier(
            hidden,
            max_iter=epochs,
            **{**common, "variables": VARIABLES, "learner": FrozenEstimator(online)},
        )
        old.fit_learner(X, y)
        acc = {}
        for label, clf in zip(labels, [bp, own, syn, nar, old]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                students = clf.train_students(clf.training_data(X, y), seeds)
            acc[label] = np.median(
                [students.estimator(k).score(X_te, y_te) for k in range(len(seeds))]
            )
        for label in met:
            if acc[label] >= ACCURACY_SHARE * acc["backprop"]:
                met[label].append(name)
        print(f"{name:<16}{epochs:>5}" + "".join(f"{acc[n]:>12.3f}" for n in labels))
    for label, tasks in met.items():
        print(
            f"{label}: >= {ACCURACY_SHARE:.0%} of backprop's test accuracy on "
            f"{len(tasks)} of {len(suite)} tasks: {tasks}"
        )


def float32_effect(args):
    """How far a float32 learner moves a student from the float64 one's path.

    The 64-32-10 task split 1500 / 500, the default AND rule; one student per
    learner dtype from the same initial weights, online and at batch 32.
    """
    rule = and_rule()
    X, y = make_task(2000)
    X_tr, X_te, y_tr, y_te = X[:1500], X[1500:], y[:1500], y[1500:]
    print("batch  epochs  loss rel. diff  weights rel. diff  test acc f64 / f32")
    for batch, epochs in ((1, 2 if args.quick else 5), (32, 40)):
        fits = {}
        for dtype in ("float64", "float32"):
            clf = LearnedRuleMLPClassifier(
                (32,),
                learner=FrozenEstimator(rule),
                mode="link",
                variables=VARIABLES,
                target="scaled",
                batch_size=batch,
                max_iter=epochs,
                learner_dtype=dtype,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fits[dtype] = clf.fit(X_tr, y_tr)
        a, b = fits["float64"], fits["float32"]
        loss = abs(a.loss_curve_[-1] - b.loss_curve_[-1]) / a.loss_curve_[-1]
        wa, wb = (np.concatenate([c.ravel() for c in f.coefs_]) for f in (a, b))
        weights = np.abs(wa - wb).max() / np.abs(wa).max()
        print(
            f"{batch:>5}{epochs:>8}{loss:>16.1e}{weights:>19.1e}"
            f"{a.score(X_te, y_te):>12.3f} / {b.score(X_te, y_te):.3f}"
        )


def widths(args):
    """Students of AND rules with learners of several widths, over several fits.

    Each fit draws its own teachers and learner initialisation (``random_state``
    0, 1, ...); its rule (as :func:`and_rule`, float32) trains students online
    on the transfer benchmark's tasks with a test split (5 seeds) and on the
    64-32-10 task (1,500 rows, 500 held out, 10 epochs, 2 seeds).
    """
    from bench_transfer import make_suite

    suite = {k: v for k, v in make_suite(args.quick).items() if v[2] is not None}
    X, y = make_task(2000)
    suite["64-32-10"] = (X[:1500], y[:1500], X[1500:], y[1500:], (32,), 10)
    X_and, y_and = make_boolean("and")

    def score(clf, X, y, X_te, y_te, name):
        seeds = [0, 1] if name == "64-32-10" else list(range(5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            students = clf.train_students(clf.training_data(X, y), seeds)
        return np.median([students.estimator(k).score(X_te, y_te) for k in seeds])

    names = list(suite)
    print("median test accuracy of online students; rules fitted on AND")
    print(f"{'rule':<14}" + "".join(f"{n[:12]:>13}" for n in names))
    bp = {}
    for name, (X, y, X_te, y_te, hidden, epochs) in suite.items():
        clf = BackpropMLPClassifier(hidden, learning_rate_init=RATE, max_iter=epochs)
        bp[name] = score(clf, X, y, X_te, y_te, name)
    print(f"{'backprop':<14}" + "".join(f"{bp[n]:>13.3f}" for n in names))
    for width, activation in itertools.product(args.widths, args.activations):
        for fit in range(args.fits):
            learner = default_learner().set_params(
                hidden_layer_sizes=(width,), activation=activation, random_state=fit
            )
            rule = LearnedRuleMLPClassifier(
                (1,),
                mode="link",
                variables=VARIABLES,
                target="scaled",
                max_iter=1000,
                n_teacher_runs=8,
                learner=learner,
                random_state=fit,
            )
            rule = rule.fit(X_and, y_and).learner_
            acc = {}
            for name, (X, y, X_te, y_te, hidden, epochs) in suite.items():
                clf = LearnedRuleMLPClassifier(
                    hidden,
                    mode="link",
                    variables=VARIABLES,
                    target="scaled",
                    learner=FrozenEstimator(rule),
                    learner_dtype="float32",
                    max_iter=epochs,
                    random_state=0,
                )
                clf.fit_learner(X, y)
                acc[name] = score(clf, X, y, X_te, y_te, name)
            label = f"{width} {activation[:4]}, {fit}"
            print(f"{label:<14}" + "".join(f"{acc[n]:>13.3f}" for n in names))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument("--quick", action="store_true", help="one task, 2 repeats")
    parser.add_argument("--cpu", action="store_true", help="time CPU seconds")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--accuracy", action="store_true", help="test accuracy")
    parser.add_argument(
        "--float32", action="store_true", help="float32 learner against float64"
    )
    parser.add_argument("--seeds", type=int, default=10, help="students (accuracy)")
    parser.add_argument(
        "--width", type=int, default=16, help="hidden units of the narrow learner"
    )
    parser.add_argument(
        "--widths",
        type=lambda text: [int(w) for w in text.split(",")],
        help="compare AND rules with learners of these widths, e.g. 32,16",
    )
    parser.add_argument("--fits", type=int, default=4, help="fits per width")
    parser.add_argument(
        "--activations",
        type=lambda text: text.split(","),
        default=["logistic"],
        help="with --widths: the learners' hidden activations, e.g. logistic,relu",
    )
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        if args.accuracy:
            accuracy(args)
        elif args.float32:
            float32_effect(args)
        elif args.widths:
            widths(args)
        else:
            timing(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
