"""Training with a learned rule vs with backprop, side by side in one process.

Times only the student's training (the learner is fitted once, beforehand):

- experiment 1 (AND, 2-1-1, 5000 cycles), network mode, the library's own
  regressor as learner (the fast path) -- the paper's ratio is 9.3
  (3.781 s vs 0.408 s); the target here is <= 1.5;
- the same with the fallback guard (``on_divergence="fallback"``), which
  checks each epoch's loss;
- the same with scikit-learn's ``MLPRegressor`` as learner, through ``predict``;
- a 2-5-2 network on 200 square points, online, in link mode.

Run ``python benchmarks/bench_learned.py [--repeats 5] [--quick]``.
"""

import argparse
import statistics
import time

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPRegressor

from sk_metabp import BackpropMLPClassifier, LearnedRuleMLPClassifier
from sk_metabp.datasets import make_boolean, make_squares


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    args = parser.parse_args(argv)
    epochs = 500 if args.quick else 5000
    sq_epochs = 20 if args.quick else 200
    rows = []

    X, y = make_boolean("and")
    teacher = LearnedRuleMLPClassifier((1,), max_iter=epochs, random_state=0).fit(X, y)
    rule = FrozenEstimator(teacher.learner_)
    backprop = BackpropMLPClassifier((1,), learning_rate_init=0.23, max_iter=epochs)
    learned = LearnedRuleMLPClassifier((1,), learner=rule, max_iter=epochs)
    t_bp = median_time(
        lambda: backprop.set_params(random_state=1).fit(X, y), args.repeats
    )
    t_lr = median_time(
        lambda: learned.set_params(random_state=1).fit(X, y), args.repeats
    )
    rows.append((f"exp 1, {epochs} cycles, own learner", t_bp, t_lr, 1.5))
    guarded = LearnedRuleMLPClassifier(
        (1,), learner=rule, max_iter=epochs, on_divergence="fallback"
    )
    t_gd = median_time(
        lambda: guarded.set_params(random_state=1).fit(X, y), args.repeats
    )
    rows.append((f"exp 1, {epochs} cycles, own learner, guarded", t_bp, t_gd, 1.5))

    rec = teacher.recorder_
    frame = rec.to_frame()
    sk = MLPRegressor(hidden_layer_sizes=(32,), max_iter=50, random_state=0).fit(
        frame[rec.feature_names_], frame[rec.target_names_]
    )
    sk_learned = LearnedRuleMLPClassifier(
        (1,), learner=FrozenEstimator(sk), max_iter=max(1, epochs // 10)
    )
    t_sk = median_time(lambda: sk_learned.set_params(random_state=1).fit(X, y), 1) * 10
    rows.append(
        (f"exp 1, {epochs} cycles, MLPRegressor (x10 of 1/10)", t_bp, t_sk, None)
    )

    X_tr, _, Y_tr, _ = make_squares(200, 0, random_state=0)
    link = LearnedRuleMLPClassifier(
        (5,),
        mode="link",
        n_teacher_runs=1,
        record_every=20,
        max_iter=sq_epochs,
        random_state=0,
    ).fit(X_tr, Y_tr)
    bp_sq = BackpropMLPClassifier((5,), learning_rate_init=0.23, max_iter=sq_epochs)
    lr_sq = LearnedRuleMLPClassifier(
        (5,), learner=FrozenEstimator(link.learner_), mode="link", max_iter=sq_epochs
    )
    t_bp_sq = median_time(lambda: bp_sq.set_params(random_state=1).fit(X_tr, Y_tr), 3)
    t_lr_sq = median_time(lambda: lr_sq.set_params(random_state=1).fit(X_tr, Y_tr), 3)
    rows.append((f"2-5-2 squares, {sq_epochs} epochs, link", t_bp_sq, t_lr_sq, None))

    print(f"{'case':48s} {'backprop s':>11s} {'learned s':>10s} {'ratio':>7s}  target")
    for name, a, b, target in rows:
        goal = f"<= {target}" if target else ""
        print(f"{name:48s} {a:11.3f} {b:10.3f} {b / a:7.2f}  {goal}")
    print("paper, experiment 1: 0.408 s vs 3.781 s, ratio 9.27")
    return np.array([b / a for _, a, b, _ in rows])


if __name__ == "__main__":
    main()
