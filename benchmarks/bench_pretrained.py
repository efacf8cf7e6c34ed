"""Benchmark: the shipped pretrained rule against tuned backprop on unseen tasks.

The pretrained rule (``LearnedRuleMLPClassifier(hidden, learner="pretrained")``)
was fitted only on synthetic tasks the library generates. Here it trains
networks on tasks from scikit-learn's datasets and generators, which it never
saw, for the same epochs and from the same seeds as:

- ``bp 0.23``: backprop at the paper's rate;
- ``bp best``: backprop at the single rate of :data:`RATES` best over the
  whole table (lowest geometric mean of the final training losses; chosen on
  this table, as the issue defines it);
- ``oracle``: backprop at each task's own best rate of :data:`RATES`;
- ``sk adam``: scikit-learn's ``MLPClassifier`` (``solver="adam"``, its
  default rate 0.001, logistic units, same hidden layers, batch size and
  epochs). It learns the log-loss, so only its test accuracy is comparable;
- ``teacher``: the one teacher the rule imitated at this batch size (read
  from its manifest, e.g. Adam at a rate), when it had one: what the rule
  adds to (or loses on) the optimizer it learned from.

The rule's learner computes in float32 (``--learner-dtype``), as with
``learner="pretrained"``.

Each task is standardised and split 75/25 (stratified). Cells: the median over
the seeds of the final training loss (the squared error J of eq. (2), averaged
over the last epoch's patterns) and of the test accuracy. Time: the median over
tasks of each method's CPU seconds per epoch for the seeds' networks in lockstep,
as a ratio to ``bp 0.23``'s (the two sides alternate per task).

Targets (the issue's): a lower final training loss than ``bp best`` on at
least 2/3 of the tasks, test accuracy at least 98% of ``bp best``'s on every
one, never a NaN, and a cost per epoch at most 3 times backprop's at batch 32.

Run ``python benchmarks/bench_pretrained.py [--batch-size 32] [--epochs 100]
[--seeds 5] [--rule DIR [DIR ...]]`` (``--rule`` evaluates rules rebuilt with
``python -m sk_metabp pretrain --out DIR``, each against the same baselines,
and with several prints the spread of the targets' counts over them, e.g. over
pretrain seeds; ``--validate`` runs the same comparison on synthetic validation
tasks instead, the tasks the recipe was chosen on).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_blobs,
    make_circles,
    make_classification,
    make_gaussian_quantiles,
    make_moons,
)
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from sk_metabp import BackpropMLPClassifier, pretrained
from sk_metabp.datasets import make_teacher_family

RATES = (0.1, 0.23, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
PAPER_RATE = 0.23
ACCURACY_SHARE = 0.98
MAX_COST = 3.0


def _split(X, y, seed=0):
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def evaluation_tasks():
    """name -> (X_train, y_train, X_test, y_test, hidden): 9 unseen tasks."""
    tasks = {}
    for name, loader, hidden in [
        ("iris 4-8-3", load_iris, (8,)),
        ("wine 13-8-3", load_wine, (8,)),
        ("cancer 30-8-1", load_breast_cancer, (8,)),
    ]:
        tasks[name] = (*_split(*loader(return_X_y=True)), hidden)
    X, y = load_digits(return_X_y=True)
    tasks["digits 64-16-10"] = (*_split(X[:800], y[:800]), (16,))
    X, y = make_moons(300, noise=0.2, random_state=0)
    tasks["moons 2-8-8-1"] = (*_split(X, y), (8, 8))
    X, y = make_circles(300, noise=0.1, factor=0.5, random_state=0)
    tasks["circles 2-8-1"] = (*_split(X, y), (8,))
    X, y = make_classification(
        400, 20, n_informative=8, n_classes=4, n_clusters_per_class=1, random_state=0
    )
    tasks["classif 20-16-8-4"] = (*_split(X, y), (16, 8))
    X, y = make_blobs(300, 8, centers=5, cluster_std=3.0, random_state=0)
    tasks["blobs 8-8-5"] = (*_split(X, y), (8,))
    X, y = make_gaussian_quantiles(
        n_samples=300, n_features=6, n_classes=3, random_state=0
    )
    tasks["quantiles 6-12-3"] = (*_split(X, y), (12,))
    return tasks


def validation_tasks(wide=False):
    """Synthetic validation tasks (random teacher networks), none in the
    pretraining set: the recipe was chosen on these. ``wide``: tasks of
    ``pretrained.WIDE_FAMILY``'s shapes (2-64 inputs, 2-10 classes, 400-1,000
    rows) instead of the small ones."""
    tasks = {}
    family = (
        make_teacher_family(8, random_state=54321, **pretrained.WIDE_FAMILY)
        if wide
        else make_teacher_family(8, random_state=pretrained.VALIDATION_SEED)
    )
    for i, (X, y, hidden) in enumerate(family):
        shape = "-".join(str(s) for s in (X.shape[1], *hidden, len(np.unique(y))))
        tasks[f"synthetic {i} {shape}"] = (*_split(X, y), hidden)
    return tasks


def _students(clf, X, y, seeds, epochs, rule=None):
    """Median final training loss and per-seed networks; CPU seconds taken."""
    data = clf.training_data(X, y)
    started = time.process_time()
    with np.errstate(all="ignore"):
        students = clf.train_students(data, seeds, rule=rule, max_iter=epochs)
    seconds = time.process_time() - started
    curves = students.loss_curves
    done = (students.n_iter == epochs) & (students.diverged < 0)
    final = np.where(done, curves[:, -1] if curves.shape[1] else np.nan, np.nan)
    return final, students, seconds


def _accuracy(students, X_te, y_te):
    return np.array(
        [students.estimator(k).score(X_te, y_te) for k in range(len(students))]
    )


def run(tasks, rules, batch_size, epochs, seeds, learner_dtype="float64"):
    """Each task's cells: {method: (final losses, accuracies, CPU s/epoch)},
    one dict per rule of ``rules`` (folders from pretrain, None for the shipped
    rule); the baselines are computed once and shared."""
    per_rule = [{} for _ in rules]
    infos = [pretrained.load_manifest(directory) for directory in rules]
    for name, (X, y, X_te, y_te, hidden) in tasks.items():
        row, t0 = {}, time.perf_counter()
        own = [{} for _ in rules]
        for rate in RATES:
            bp = BackpropMLPClassifier(
                hidden, learning_rate_init=rate, batch_size=batch_size, max_iter=epochs
            )
            final, students, seconds = _students(bp, X, y, seeds, epochs)
            row[rate] = (final, _accuracy(students, X_te, y_te), seconds / epochs)
            if rate != PAPER_RATE:
                continue
            for directory, cells in zip(rules, own):
                # each learned rule right after backprop at 0.23: turns alternate
                learned = pretrained.classifier(
                    hidden,
                    directory,
                    batch_size=batch_size,
                    max_iter=epochs,
                    learner_dtype=learner_dtype,
                ).fit_learner(X, y)
                final, students, seconds = _students(
                    learned, X, y, seeds, epochs, rule=learned.update_rule()
                )
                cells["pretrained"] = (
                    final,
                    _accuracy(students, X_te, y_te),
                    seconds / epochs,
                )
        accs, started = [], time.process_time()
        for seed in seeds:
            sk = MLPClassifier(
                hidden,
                activation="logistic",
                solver="adam",
                batch_size=batch_size,
                max_iter=epochs,
                tol=0,
                n_iter_no_change=epochs + 1,
                random_state=seed,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                accs.append(sk.fit(X, y).score(X_te, y_te))
        sk_time = (time.process_time() - started) / epochs
        row["sk adam"] = (np.full(len(seeds), np.nan), np.array(accs), sk_time)
        teachers = {}
        for info, cells in zip(infos, own):
            # the teacher the rule imitated at this batch size, if it had one
            teacher = pretrained.imitated_classifier(
                info, batch_size, hidden_layer_sizes=hidden, max_iter=epochs
            )
            if teacher is None:
                continue
            key = tuple(sorted(teacher.get_params().items()))
            if key not in teachers:
                final, students, seconds = _students(teacher, X, y, seeds, epochs)
                acc = _accuracy(students, X_te, y_te)
                teachers[key] = (final, acc, seconds / epochs)
            cells["teacher"] = teachers[key]
        for rows, cells in zip(per_rule, own):
            rows[name] = {**row, **cells}
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return per_rule


def _gmean(values):
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        return np.inf
    return float(np.exp(np.log(np.maximum(values, 1e-300)).mean()))


def report(rows, batch_size, epochs, n_seeds):
    names = list(rows)
    med = {n: {m: np.median(v[0]) for m, v in rows[n].items()} for n in names}
    acc = {n: {m: np.median(v[1]) for m, v in rows[n].items()} for n in names}
    best_single = min(RATES, key=lambda r: _gmean([med[n][r] for n in names]))
    oracle = {n: min(RATES, key=lambda r: med[n][r]) for n in names}
    print(
        f"\nbatch size {batch_size}, {epochs} epochs, median over {n_seeds} seeds; "
        f"loss = final training loss J, acc = test accuracy"
    )
    print(f"best single rate over the table: {best_single}")
    methods = ["pretrained", "bp 0.23", "bp best", "oracle", "sk adam"]
    if all("teacher" in rows[n] for n in names):
        methods.append("teacher")
    header = "| task | " + " | ".join(methods) + " |"
    print("\n" + header)
    print("|" + "---|" * (len(methods) + 1))
    better, kept, nans, costs = [], [], [], []
    for n in names:
        cells = {
            "pretrained": (med[n]["pretrained"], acc[n]["pretrained"]),
            "bp 0.23": (med[n][PAPER_RATE], acc[n][PAPER_RATE]),
            "bp best": (med[n][best_single], acc[n][best_single]),
            "oracle": (med[n][oracle[n]], acc[n][oracle[n]]),
            "sk adam": (np.nan, acc[n]["sk adam"]),
        }
        if "teacher" in methods:
            cells["teacher"] = (med[n]["teacher"], acc[n]["teacher"])
        text = []
        for m in methods:
            loss, a = cells[m]
            if m == "sk adam":
                text.append(f"{a:.2f}")
            elif m == "oracle":
                text.append(f"{loss:.3g} / {a:.2f} (rate {oracle[n]:g})")
            else:
                text.append(f"{loss:.3g} / {a:.2f}")
        print(f"| {n} | " + " | ".join(text) + " |")
        if cells["pretrained"][0] < cells["bp best"][0]:
            better.append(n)
        if cells["pretrained"][1] >= ACCURACY_SHARE * cells["bp best"][1]:
            kept.append(n)
        if not np.isfinite(rows[n]["pretrained"][0]).all():
            nans.append(n)
        costs.append(rows[n]["pretrained"][2] / rows[n][PAPER_RATE][2])
    sk_costs = [rows[n]["sk adam"][2] / rows[n][PAPER_RATE][2] for n in names]
    cost = float(np.median(costs))
    print(
        f"\nCPU time per epoch (lockstep {n_seeds} networks), median over tasks: "
        f"pretrained / bp = {cost:.2f} (range {min(costs):.2f}-{max(costs):.2f}); "
        f"sk adam (one network at a time) / bp = {np.median(sk_costs):.2f}"
    )
    if "teacher" in methods:
        # what the rule adds to the optimizer it imitated, and what it costs
        ratios = [med[n]["pretrained"] / med[n]["teacher"] for n in names]
        teacher_costs = [rows[n]["teacher"][2] / rows[n][PAPER_RATE][2] for n in names]
        print(
            f"teacher: pretrained's loss / the teacher's, median over tasks "
            f"{np.median(ratios):.3g} (range {min(ratios):.3g}-{max(ratios):.3g}); "
            f"teacher / bp CPU time per epoch = {np.median(teacher_costs):.2f} "
            "(run after the others, not alternated)"
        )
    need = int(np.ceil(2 * len(names) / 3))
    print(
        f"target {'MET' if len(better) >= need else 'NOT met'}: lower final "
        f"training loss than bp best ({best_single}) on {len(better)} of "
        f"{len(names)} tasks (need {need}): {better}"
    )
    missed = [n for n in names if n not in kept]
    print(
        f"target {'MET' if not missed else 'NOT met'}: test accuracy >= "
        f"{ACCURACY_SHARE:.0%} of bp best's on every task; missed on {missed}"
    )
    print(
        f"target {'MET' if not nans else 'NOT met'}: never a NaN (a diverged or "
        f"non-finite student); on {nans}"
    )
    print(
        f"target {'MET' if cost <= MAX_COST else 'NOT met'}: cost per epoch <= "
        f"{MAX_COST:g} x backprop's: {cost:.2f}"
    )
    return {
        "loss wins": len(better),
        "accuracy kept": len(kept),
        "NaN tasks": len(nans),
        "cost": cost,
    }


def summary(labels, counts, n_tasks):
    """One line per rule and the spread over the rules (several pretrain
    seeds: one build is an anecdote)."""
    print(f"\nover {len(labels)} rules ({n_tasks} tasks each):")
    print("| rule | " + " | ".join(counts[0]) + " |")
    print("|" + "---|" * (len(counts[0]) + 1))
    for label, c in zip(labels, counts):
        cells = [f"{v:.2f}" if k == "cost" else str(v) for k, v in c.items()]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for key in counts[0]:
        values = [c[key] for c in counts]
        print(
            f"{key}: median {np.median(values):.3g}, range "
            f"{min(values):.3g}-{max(values):.3g}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--rule",
        nargs="+",
        default=[None],
        metavar="DIR",
        help="folders from pretrain (default: the shipped rule); several give "
        "one table each, on the same baselines, and their spread",
    )
    parser.add_argument(
        "--validate", action="store_true", help="synthetic validation tasks"
    )
    parser.add_argument(
        "--wide",
        action="store_true",
        help="with --validate: the wide validation family (the evaluation's shapes)",
    )
    parser.add_argument(
        "--learner-dtype",
        choices=["float64", "float32"],
        default="float32",
        help="the learner's forward pass (float32, learner='pretrained''s "
        "default: faster; float64: the learner's predict to the last bit)",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # divergence is counted in the table
    rules = args.rule
    tasks = validation_tasks(args.wide) if args.validate else evaluation_tasks()
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    per_rule = run(
        tasks, rules, args.batch_size, args.epochs, seeds, args.learner_dtype
    )
    labels = ["shipped" if d is None else d for d in args.rule]
    counts = []
    for label, rows in zip(labels, per_rule):
        if len(labels) > 1:
            print(f"\n## rule {label}")
        counts.append(report(rows, args.batch_size, args.epochs, len(seeds)))
    if len(labels) > 1:
        summary(labels, counts, len(tasks))
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
