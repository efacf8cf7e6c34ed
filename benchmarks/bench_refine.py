"""Benchmark: does trial-and-error refinement improve the pretrained rule?

Refines a pretrained learner of one batch size (the shipped rule, or
``--rule DIR``, a folder from ``python -m sk_metabp pretrain --out DIR``)
with :func:`sk_metabp.refine.refine_learner` and measures, for each
refinement seed, the objective on synthetic tasks the refinement never
touched, before and after. Only tasks the library generates are used, in
three disjoint sets (search and validation from
:func:`sk_metabp.pretrained.refinement_tasks`, refined by
:func:`sk_metabp.pretrained.refine` as ``pretrain --refine-seed`` does):

- *search*: 8 teacher-network tasks of the pretrained rule's own training set
  (:func:`sk_metabp.pretrained.training_tasks`), on which the evolution
  strategies step; ``--search-tasks N`` takes N of that family (beyond 16,
  further draws of it) and ``--tasks-per-generation K`` scores each
  generation's candidates on K of them drawn afresh
  (``refine_learner(tasks_per_generation=K)``);
- *validation*: the 8 tasks the pretrained recipe was chosen on
  (``make_teacher_family(8, random_state=12345)``; ``--validation-tasks N``
  takes N of that family, ``--validation-students M`` trains M students on
  each); among the weights that improve the search score, the one with the
  best validation score is kept (the input comes back unless one improves
  it; with several ``--validation-objective``, it must improve on each, and
  with ``--checkpoints`` the weights after every generation are candidates,
  ``refine_learner(checkpoints=True)``); ``--narrow-tasks N`` adds N tasks
  whose hidden layers have 2 or 3 units to the search tasks and N others to
  the validation tasks; ``--trust-radius R`` keeps the weights within R
  times their norm of the input's (``refine_learner(trust_radius=R)``);
- *held-out*: 8 further tasks (``make_teacher_family(8, random_state=2024)``),
  scored after the refinement with students of other seeds
  (``--held-out-tasks N --held-out-seed S``: N tasks of another draw; 8 are
  few to call a refinement safe).

The baseline is the teacher the rule imitated at that batch size
(:func:`sk_metabp.pretrained.imitated_teacher`: for the shipped rule Adam with
its steps divided by each layer's fan-in, at rate 1 at batch 32 and 0.3 online;
Adam at one rate for a rule of the ``"adam"`` recipe, backprop at one rate for
one of the ``"sgd"`` recipe). A task's ratio is the rule's final training loss
over that teacher's, with the same students
(:func:`sk_metabp.refine.loss_ratios`). The search's objective
(``--objective``) is the worst task's ratio (``worst_ratio``: below 1, the rule
beats its teacher on every task) or its smooth maximum (``soft_worst``,
:func:`sk_metabp.refine.soft_worst` at ``--temperature``); the validation tasks
score in the same way unless ``--validation-objective`` says otherwise. Both
are reported on the held-out tasks, with the geometric mean of their ratios (the
typical task), and for each score the share of 1,000 resamples of the held-out
students (:func:`sk_metabp.refine.resample_ratios`, the same draws before and
after) in which the refined rule scores lower than the input.

A task's loss is its students' mean final loss, or their median (or geometric
mean) with ``--student-loss median`` (``geometric_mean``): a student that
settles on a plateau ends hundreds of times above its peers (the teacher's
students too, from other seeds), and the mean of a few students, and so a
task's ratio, is then that student's.
``--held-out-students`` sets the held-out tasks' students (5 by default).

Run ``python benchmarks/bench_refine.py [--rule DIR] [--batch-size 32]
[--epochs 100] [--seeds 0 1 2] [--generations 8] [--population 8]
[--sigma 0.05] [--students 4] [--objective worst_ratio]
[--validation-objective OBJECTIVE [OBJECTIVE]] [--validation-tasks 8]
[--validation-students M] [--temperature 0.25] [--student-loss median]
[--held-out-students 5] [--search-tasks 8] [--tasks-per-generation K]
[--checkpoints] [--narrow-tasks N] [--trust-radius R] [--held-out-tasks 8]
[--held-out-seed 2024] [--n-jobs 2]``.
"""

import argparse
import time

import numpy as np
from bench_judge import judged

from sk_metabp import pretrained
from sk_metabp.datasets import make_teacher_family
from sk_metabp.refine import loss_ratios

#: Refinement settings of the first run (``--sigma`` and ``--students`` change
#: the first two).
SIGMA = 0.05
N_STUDENTS = 4
STEP_SIZE = 0.05
HELD_OUT_STUDENTS = 5
#: Resamples of the held-out students (paired: the same draws for every rule).
RESAMPLES = 1000


def _save(info, args, seed, refined, worst, soft):
    """The rule with its learner for ``args.batch_size`` refined, and how."""
    from pathlib import Path

    learners = {
        b: refined if b == args.batch_size else pretrained.load(args.rule, batch_size=b)
        for b in info["batch_sizes"]
    }
    kept = {
        k: v
        for k, v in info.items()
        if k in ("tasks", "recipe", "budget", "random_state")
    }
    settings = {k: v for k, v in vars(args).items() if k not in ("save", "seeds")}
    pretrained.save(
        learners,
        Path(args.save) / f"seed{seed}",
        **{k: info[k] for k in pretrained.REQUIRED},
        **kept,
        refinement={**settings, "seed": seed, "held_out": [worst, soft]},
    )


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
        "--objective", choices=("worst_ratio", "soft_worst"), default="worst_ratio"
    )
    parser.add_argument(
        "--validation-objective",
        choices=("worst_ratio", "soft_worst"),
        nargs="+",
        default=None,
        help="the validation tasks' score (default: --objective); with two, "
        "a refinement must lower both",
    )
    parser.add_argument("--validation-tasks", type=int, default=8, metavar="N")
    parser.add_argument(
        "--narrow-tasks",
        type=int,
        default=0,
        metavar="N",
        help="add N tasks of hidden layers of 2-3 units to the search tasks and "
        "N others to the validation tasks",
    )
    parser.add_argument(
        "--validation-students",
        type=int,
        default=None,
        metavar="M",
        help="students per validation task (default: --students)",
    )
    parser.add_argument(
        "--checkpoints",
        action="store_true",
        help="with --tasks-per-generation, every generation's weights are "
        "candidates, not only the final ones",
    )
    parser.add_argument(
        "--trust-radius",
        type=float,
        default=None,
        metavar="R",
        help="keep the weights within R times their norm of the input's",
    )
    parser.add_argument("--temperature", type=float, default=0.25)
    parser.add_argument(
        "--student-loss",
        choices=("mean", "median", "geometric_mean"),
        default="mean",
        help="a task's loss from its students' (search, validation and held-out)",
    )
    parser.add_argument(
        "--held-out-students", type=int, default=HELD_OUT_STUDENTS, metavar="N"
    )
    parser.add_argument("--search-tasks", type=int, default=8, metavar="N")
    parser.add_argument(
        "--held-out-tasks",
        type=int,
        default=8,
        metavar="N",
        help="held-out tasks: make_teacher_family(N, random_state=--held-out-seed)",
    )
    parser.add_argument("--held-out-seed", type=int, default=2024, metavar="S")
    parser.add_argument(
        "--tasks-per-generation",
        type=int,
        default=None,
        metavar="K",
        help="score each generation on K search tasks drawn afresh (default: all)",
    )
    parser.add_argument(
        "--save",
        default=None,
        metavar="DIR",
        help="write each seed's refined rule to DIR/seed<S> (the rule's other "
        "batch sizes unchanged), for bench_pretrained.py --rule",
    )
    parser.add_argument(
        "--rule", default=None, help="a folder from pretrain (default: shipped)"
    )
    args = parser.parse_args()
    epochs = args.epochs or (100 if args.batch_size > 1 else 30)
    info = pretrained.load_manifest(args.rule)
    teacher = pretrained.imitated_teacher(info, args.batch_size)
    if teacher is None:
        parser.error(
            "the rule imitated no single teacher at this batch size (each task "
            "had its own); build one of a single teacher with `python -m "
            "sk_metabp pretrain --out DIR` and pass --rule DIR"
        )
    learner = pretrained.load(args.rule, batch_size=args.batch_size)
    common = dict(
        variables=info["variables"],
        target=info["target"],
        baseline=teacher,
        batch_size=args.batch_size,
        n_epochs=epochs,
        student_loss=args.student_loss,
    )
    held_out = make_teacher_family(args.held_out_tasks, random_state=args.held_out_seed)
    n_narrow = args.narrow_tasks
    validation_score = args.validation_objective or [args.objective]
    validation_name = " and ".join(validation_score)

    def held_out_scores(rule):
        """(worst, soft worst, geometric mean), the task ratios, and the three
        scores on each resample of the students."""
        _, mine, theirs = loss_ratios(
            rule,
            held_out,
            n_students=args.held_out_students,
            random_state=999,
            return_losses=True,
            **common,
        )
        ratios, point, resampled = judged(
            mine, theirs, args.student_loss, RESAMPLES, args.temperature
        )
        return point, ratios, resampled

    (worst0, soft0, gm0), ratios_before, resampled0 = held_out_scores(learner)
    print(
        f"{args.search_tasks + n_narrow} search, {args.validation_tasks + n_narrow} "
        f"validation and {len(held_out)} "
        f"held-out tasks; batch {args.batch_size}, {epochs} epochs, baseline "
        f"{teacher}, objective "
        f"{args.objective}, validation {validation_name} (temperature "
        f"{args.temperature:g}), {args.student_loss} of the students' losses, "
        f"{args.held_out_students} held-out students; held-out before "
        f"refinement: worst ratio {worst0:.4f}, soft worst {soft0:.4f}, geometric "
        f"mean {gm0:.4f} (per task "
        f"{np.round(ratios_before, 3).tolist()})",
        flush=True,
    )
    rows, returned = [], []  # returned: the search gave back its input
    for seed in args.seeds:
        started = time.perf_counter()
        refined = pretrained.refine(
            learner,
            random_state=seed,
            n_search=args.search_tasks,
            n_validation=args.validation_tasks,
            n_narrow=n_narrow,
            tasks_from=info.get("random_state", 0),
            validation_score=validation_score,
            validation_students=args.validation_students,
            checkpoints=args.checkpoints,
            trust_radius=args.trust_radius,
            score=args.objective,
            temperature=args.temperature,
            n_generations=args.generations,
            population=args.population,
            sigma=args.sigma,
            step_size=STEP_SIZE,
            n_students=args.students,
            tasks_per_generation=args.tasks_per_generation,
            n_jobs=args.n_jobs,
            **common,
        )
        (worst1, soft1, gm1), ratios_after, resampled1 = held_out_scores(refined)
        # in how many resamples of the students the refined rule scores lower
        below = (resampled1 < resampled0).mean(1)
        returned.append(
            all(
                np.array_equal(a, b)
                for a, b in zip(
                    refined.coefs_ + refined.intercepts_,
                    learner.coefs_ + learner.intercepts_,
                )
            )
        )
        if args.save:
            _save(info, args, seed, refined, worst1, soft1)
        rows.append(
            (
                seed,
                refined.refine_start_loss_,
                refined.refine_loss_,
                refined.refine_validation_start_loss_,
                refined.refine_validation_loss_,
                worst1,
                soft1,
                gm1,
                *below,
                time.perf_counter() - started,
            )
        )
        start, end = (
            refined.refine_validation_start_scores_,
            refined.refine_validation_scores_,
        )
        print(
            f"seed {seed}: search {rows[-1][1]:.4f} -> {rows[-1][2]:.4f}, "
            "validation "
            + ", ".join(f"{k} {start[k]:.4f} -> {end[k]:.4f}" for k in start)
            + f"; held-out worst "
            f"{worst0:.4f} -> {worst1:.4f}, soft {soft0:.4f} -> {soft1:.4f}, "
            f"geometric mean {gm0:.4f} -> {gm1:.4f}; lower than the input's in "
            f"{below[0]:.0%} / {below[1]:.0%} / {below[2]:.0%} of "
            f"{RESAMPLES} resamples of the students (per task "
            f"{np.round(ratios_after, 3).tolist()}; {rows[-1][-1]:.0f} s)",
            flush=True,
        )
    print()
    print(f"search {args.objective}, validation {validation_name}")
    print(
        "| seed | search | validation | held-out worst | held-out soft | held-out "
        "geometric mean | resamples lower: worst / soft / geometric mean | time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed, s0, s1, v0, v1, w1, f1, g1, bw, bs, bg, sec in rows:
        print(
            f"| {seed} | {s0:.3f} -> {s1:.3f} | {v0:.3f} -> {v1:.3f} | "
            f"{worst0:.3f} -> {w1:.3f} | {soft0:.3f} -> {f1:.3f} | "
            f"{gm0:.3f} -> {g1:.3f} | {bw:.0%} / {bs:.0%} / {bg:.0%} | {sec:.0f} s |"
        )
    for name, before, col in (
        ("worst ratio", worst0, 5),
        ("soft worst", soft0, 6),
        ("geometric mean", gm0, 7),
    ):
        better = sum(r[col] < before for r in rows)
        worse = sum(r[col] > before for r in rows)
        print(
            f"held-out {name}: improved on {better}, worse on {worse} of "
            f"{len(rows)} seeds"
        )
    print(f"the input came back on {sum(returned)} of {len(rows)} seeds")


if __name__ == "__main__":
    main()
