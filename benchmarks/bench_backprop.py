"""Benchmark: sk_metabp's online backprop against scikit-learn's MLPClassifier.

Both libraries run in this one process, configured alike: logistic units, plain
SGD one pattern at a time, no momentum, no L2 penalty, a constant learning rate
of 0.23, the patterns in the order given, and every epoch run (tol=0 with a
patience longer than the run). Cases:

1. the paper's experiment 1: AND on a 2-1-1 network, 5000 epochs;
2. a 2-5-2 network on 200 points of the inner-square task, 200 epochs;
3. lockstep: 256 networks of experiment 1 trained as one stack by the loop in
   ``sk_metabp._mlp``, against one network alone through the same loop.

Each case is timed ``--repeats`` times; the table shows medians and the ratio.

Targets: ours / scikit-learn <= 0.25 in cases 1 and 2; the 256-network stack
within 3x the time of one network.

Run ``python benchmarks/bench_backprop.py [--repeats N] [--quick]``.
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
from sk_metabp._mlp import BackpropRule, init_params, layer_sizes, train
from sk_metabp.datasets import make_boolean, make_squares

RATE = 0.23
TARGET_RATIO = 0.25
TARGET_LOCKSTEP = 3.0


def ours(hidden, epochs):
    return BackpropMLPClassifier(
        hidden_layer_sizes=hidden,
        learning_rate=RATE,
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


def time_fit(make, hidden, epochs, X, y, repeats):
    """Median seconds of ``make(hidden, epochs).fit(X, y)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        est = make(hidden, epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            est.fit(X, y)
            times.append(time.perf_counter() - start)
    return statistics.median(times), est


def time_stack(K, X, y, epochs, repeats):
    """Median seconds to train K seeds of experiment 1 as one stack."""
    sizes = layer_sizes(2, (1,), 1)
    Y = y[:, None].astype(float)
    times = []
    for _ in range(repeats):
        coefs, intercepts = init_params(
            sizes, [np.random.RandomState(s) for s in range(K)]
        )
        start = time.perf_counter()
        train(coefs, intercepts, X, Y, BackpropRule(RATE), max_iter=epochs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the epochs, 2 repeats"
    )
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    scale = 10 if args.quick else 1
    and_epochs, sq_epochs = 5000 // scale, 200 // scale

    X_and, y_and = make_boolean("and")
    X_sq, _, Y_sq, _ = make_squares(200, 0, random_state=0)
    cases = [
        (f"exp. 1: AND 2-1-1, {and_epochs} epochs", (1,), and_epochs, X_and, y_and),
        (f"squares 2-5-2, 200 pts, {sq_epochs} epochs", (5,), sq_epochs, X_sq, Y_sq),
    ]

    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}; median of {repeats} runs\n"
    )
    header = (
        f"{'case':<36} {'ours (s)':>10} {'sklearn (s)':>12} {'ratio':>7} {'target':>8}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for name, hidden, epochs, X, y in cases:
        t_ours, est = time_fit(ours, hidden, epochs, X, y, repeats)
        t_sk, sk = time_fit(sklearns, hidden, epochs, X, y, repeats)
        assert est.n_iter_ == sk.n_iter_ == epochs, "both must run every epoch"
        ratio = t_ours / t_sk
        ok &= ratio <= TARGET_RATIO
        print(
            f"{name:<36} {t_ours:>10.3f} {t_sk:>12.3f} {ratio:>7.2f} "
            f"{'<= ' + str(TARGET_RATIO):>8}"
        )

    t_one = time_stack(1, X_and, y_and, and_epochs, repeats)
    t_many = time_stack(256, X_and, y_and, and_epochs, repeats)
    ratio = t_many / t_one
    ok &= ratio <= TARGET_LOCKSTEP
    header = f"{'lockstep (ours only)':<36} {'1 net (s)':>10} {'256 nets (s)':>12} "
    print(f"\n{header}{'ratio':>7} {'target':>8}")
    print("-" * len(header + " " * 16))
    print(
        f"{'exp. 1 stack, ' + str(and_epochs) + ' epochs':<36} {t_one:>10.3f} "
        f"{t_many:>12.3f} {ratio:>7.2f} {'<= ' + str(TARGET_LOCKSTEP):>8}"
    )
    print(f"\nall targets met: {'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
