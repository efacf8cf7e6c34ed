"""Benchmark: does trial-and-error refinement improve the pretrained rule?

Refines a pretrained learner of one batch size (``--rule DIR``, a folder
from ``python -m sk_metabp pretrain --recipe sgd --out DIR``: a rule that
imitated backprop at one rate) with
:func:`sk_metabp.refine.refine_learner` and measures, for each refinement
seed, the objective on synthetic tasks the refinement never touched, before
and after. Only tasks the library generates are used, in three disjoint sets:

- *search*: 8 teacher-network tasks of the pretrained rule's own training set
  (:func:`sk_metabp.pretrained.training_tasks`), on which the evolution
  strategies step;
- *validation*: the 8 tasks the pretrained recipe was chosen on
  (``make_teacher_family(8, random_state=12345)``); among the weights that
  improve the search score, the one with the best validation score is kept
  (the input comes back unless one improves it);
- *held-out*: 8 further tasks (``make_teacher_family(8, random_state=2024)``),
  scored after the refinement with students of other seeds.

The objective is the worst task's ratio of the rule's final training loss to
backprop's at the rate the rule imitated (16 at batch 32, 2 online for the
``"sgd"`` recipe), with the same students (:func:`sk_metabp.refine.loss_ratios`):
below 1, the rule beats that backprop on every task. The shipped rule
imitated Adam, which has no such rate: it is refused.

Run ``python benchmarks/bench_refine.py --rule DIR [--batch-size 32] [--epochs 100]
[--seeds 0 1 2] [--generations 8] [--population 8] [--sigma 0.05] [--students 4]
[--n-jobs 2]``.
"""

import argparse
import time

import numpy as np

from sk_metabp import pretrained
from sk_metabp.datasets import make_teacher_family
from sk_metabp.refine import loss_ratios, refine_learner

#: Refinement settings of the first run (``--sigma`` and ``--students`` change
#: the first two).
SIGMA = 0.05
N_STUDENTS = 4
STEP_SIZE = 0.05
HELD_OUT_STUDENTS = 5


def task_sets():
    """(search, validation, held-out) lists of (X, y, hidden)."""
    family = [t for t in pretrained.training_tasks(16) if t[0].startswith("teacher")]
    search = [(X, y, hidden) for _, X, y, hidden in family[:8]]
    validation = make_teacher_family(8, random_state=12345)
    held_out = make_teacher_family(8, random_state=2024)
    return search, validation, held_out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=SIGMA)
    parser.add_argument(
        "--students", type=int, default=N_STUDENTS, help="per search candidate"
    )
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--rule", default=None, help="a folder from pretrain --recipe sgd"
    )
    args = parser.parse_args()
    epochs = args.epochs or (100 if args.batch_size > 1 else 30)
    info = pretrained.load_manifest(args.rule)
    rate = pretrained.imitated_rate(info, args.batch_size)
    if rate is None:
        parser.error(
            "the rule imitated no single backprop rate at this batch size "
            f"({pretrained.imitated_teacher(info, args.batch_size)}); build one "
            "with `python -m sk_metabp pretrain --recipe sgd --out DIR` and "
            "pass --rule DIR"
        )
    learner = pretrained.load(args.rule, batch_size=args.batch_size)
    common = dict(
        variables=info["variables"],
        target=info["target"],
        baseline_rate=rate,
        batch_size=args.batch_size,
        n_epochs=epochs,
    )
    search, validation, held_out = task_sets()

    def held_out_worst(rule):
        ratios = loss_ratios(
            rule, held_out, n_students=HELD_OUT_STUDENTS, random_state=999, **common
        )
        return float(ratios.max()), ratios

    before, ratios_before = held_out_worst(learner)
    print(
        f"batch {args.batch_size}, {epochs} epochs, baseline backprop at rate "
        f"{rate:g}; held-out worst ratio before refinement {before:.4f} "
        f"(per task {np.round(ratios_before, 3).tolist()})",
        flush=True,
    )
    rows = []
    for seed in args.seeds:
        started = time.perf_counter()
        refined = refine_learner(
            learner,
            search,
            validation=validation,
            validation_score="worst_ratio",
            score="worst_ratio",
            n_generations=args.generations,
            population=args.population,
            sigma=args.sigma,
            step_size=STEP_SIZE,
            n_students=args.students,
            n_jobs=args.n_jobs,
            random_state=seed,
            **common,
        )
        after, ratios_after = held_out_worst(refined)
        rows.append(
            (
                seed,
                refined.refine_start_loss_,
                refined.refine_loss_,
                refined.refine_validation_start_loss_,
                refined.refine_validation_loss_,
                before,
                after,
                time.perf_counter() - started,
            )
        )
        print(
            f"seed {seed}: search {rows[-1][1]:.4f} -> {rows[-1][2]:.4f}, "
            f"validation {rows[-1][3]:.4f} -> {rows[-1][4]:.4f}, held-out "
            f"{before:.4f} -> {after:.4f} (per task "
            f"{np.round(ratios_after, 3).tolist()}; {rows[-1][-1]:.0f} s)",
            flush=True,
        )
    print()
    print("| seed | search | validation | held-out |")
    print("|---|---|---|---|")
    for seed, s0, s1, v0, v1, h0, h1, _ in rows:
        print(f"| {seed} | {s0:.3f} -> {s1:.3f} | {v0:.3f} -> {v1:.3f} | ", end="")
        print(f"{h0:.3f} -> {h1:.3f} |")
    improved = sum(h1 < h0 for *_, h0, h1, _ in rows)
    print(f"\nheld-out worst ratio improved on {improved} of {len(rows)} seeds")


if __name__ == "__main__":
    main()
