"""Benchmark: sk_metabp's online backprop against scikit-learn's MLPClassifier.

Both libraries run in this one process, configured alike: logistic units, plain
SGD one pattern at a time, no momentum, no L2 penalty, a constant learning rate
of 0.23, the patterns in the order given, and every epoch run (tol=0 with a
patience longer than the run). One difference remains: scikit-learn minimises
the cross-entropy of its logistic outputs, sk_metabp the paper's squared error;
the work per update is alike. Cases:

1. the paper's experiment 1: AND on a 2-1-1 network, 5000 epochs;
2. a 2-5-2 network on 200 points of the inner-square task, 200 epochs;
3. lockstep: 256 networks of experiment 1 trained as one stack by the loop in
   ``train_students``, against one network alone through the same loop.

The two sides of a comparison take turns, ``--repeats`` runs each, so a load
that comes and goes hits both alike; the table shows medians and their ratio.
``--cpu`` times the process's CPU time instead of the wall clock, steadier on a
machine shared with other work (the code timed is single-threaded).

Targets: ours / scikit-learn <= 0.25 in cases 1 and 2; the 256-network stack
within 3x the time of one network.

Run ``python benchmarks/bench_backprop.py [--repeats N] [--quick] [--cpu]``.
"""

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sk_metabp import BackpropMLPClassifier
from sk_metabp.datasets import make_boolean, make_squares

RATE = 0.23
TARGET_RATIO = 0.25
TARGET_LOCKSTEP = 3.0


def ours(hidden, epochs):
    return BackpropMLPClassifier(
        hidden_layer_sizes=hidden,
        learning_rate_init=RATE,
        momentum=0.0,
        batch_size=1,
        shuffle=False,
        max_iter=epochs,
        random_state=0,
    )


def sklearns(hidden, epochs):
    return MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="logistic",
        solver="sgd",
        batch_size=1,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        learning_rate="constant",
        learning_rate_init=RATE,
        shuffle=False,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        early_stopping=False,
        max_iter=epochs,
        random_state=0,
    )


def fit_once(make, hidden, epochs, X, y, clock):
    """Seconds of ``make(hidden, epochs).fit(X, y)``; checks every epoch ran."""
    est = make(hidden, epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = clock()
        est.fit(X, y)
        elapsed = clock() - start
    assert est.n_iter_ == epochs, f"{type(est).__name__} stopped early"
    return elapsed


def stack_once(K, X, y, epochs, clock):
    """Seconds to train K seeds of experiment 1 as one stack."""
    net = ours((1,), epochs)
    data = net.training_data(X, y)
    start = clock()
    net.train_students(data, np.arange(K))
    return clock() - start


def take_turns(a, b, repeats):
    """Median times of the callables ``a`` and ``b``, run alternately."""
    times_a, times_b = [], []
    for _ in range(repeats):
        times_a.append(a())
        times_b.append(b())
    return statistics.median(times_a), statistics.median(times_b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the epochs, 2 repeats"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="time CPU seconds, not the wall clock"
    )
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    scale = 10 if args.quick else 1
    clock = time.process_time if args.cpu else time.perf_counter
    and_epochs, sq_epochs = 5000 // scale, 200 // scale

    X_and, y_and = make_boolean("and")
    X_sq, _, Y_sq, _ = make_squares(200, 0, random_state=0)
    cases = [
        (f"exp. 1: AND 2-1-1, {and_epochs} epochs", (1,), and_epochs, X_and, y_and),
        (f"squares 2-5-2, 200 pts, {sq_epochs} epochs", (5,), sq_epochs, X_sq, Y_sq),
    ]

    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}; median of {repeats} runs, "
        f"{'CPU' if args.cpu else 'wall-clock'} seconds\n"
    )
    header = f"{'case':<36} {'ours':>10} {'sklearn':>10} {'ratio':>7} {'target':>8}"
    print(header)
    print("-" * len(header))
    ok = True
    for name, hidden, epochs, X, y in cases:
        t_ours, t_sk = take_turns(
            lambda: fit_once(ours, hidden, epochs, X, y, clock),  # noqa: B023
            lambda: fit_once(sklearns, hidden, epochs, X, y, clock),  # noqa: B023
            repeats,
        )
        ratio = t_ours / t_sk
        ok &= ratio <= TARGET_RATIO
        print(
            f"{name:<36} {t_ours:>10.3f} {t_sk:>10.3f} {ratio:>7.2f} "
            f"{'<= ' + str(TARGET_RATIO):>8}"
        )

    t_one, t_many = take_turns(
        lambda: stack_once(1, X_and, y_and, and_epochs, clock),
        lambda: stack_once(256, X_and, y_and, and_epochs, clock),
        repeats,
    )
    ratio = t_many / t_one
    ok &= ratio <= TARGET_LOCKSTEP
    print(f"\n{'lockstep, ours':<36} {'1 net':>10} {'256 nets':>10} {'ratio':>7}")
    print("-" * len(header))
    print(
        f"{'exp. 1 stack, ' + str(and_epochs) + ' epochs':<36} {t_one:>10.3f} "
        f"{t_many:>10.3f} {ratio:>7.2f} {'<= ' + str(TARGET_LOCKSTEP):>8}"
    )
    print(f"\nall targets met: {'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
