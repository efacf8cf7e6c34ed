"""Benchmark: saved rules against a reference rule, on tasks none was tuned on.

Judges pretrained rules (folders from ``python -m sk_metabp pretrain --out
DIR`` or ``bench_refine.py --save DIR``; ``shipped`` is the package's) on
families of tasks labelled by random teacher networks
(:func:`sk_metabp.datasets.make_teacher_family`, ``--families SEED:N ...``),
at one batch size. On every task, ``--students`` students train with each
rule and, with the same seeds, with the teacher the reference rule imitated
(:func:`sk_metabp.pretrained.imitated_teacher`), trained once for all rules
(:func:`sk_metabp.refine.student_losses`, seeded with ``--random-state`` on
each family, as ``bench_refine.py`` seeds its held-out tasks). A task's loss is
its students' geometric mean final training loss (``--student-loss``), its
ratio the rule's over the teacher's.

For each rule, over all the families' tasks: the worst ratio, the soft worst
(:func:`sk_metabp.refine.soft_worst`), the geometric mean of the ratios (the
typical task) and the tasks below the teacher; then, on ``--resamples`` draws
of the students with replacement, the same for every rule
(:func:`sk_metabp.refine.resample_ratios`), the share in which the rule scores
lower than the reference rule (``--reference``, default the shipped one) on
each of the three scores: near 100% or 0% is a difference the students' draw
does not explain. The geometric mean of the ratios is also printed per family.

The worst ratio is a maximum over noisy ratios: with 60 students a task's
ratio is known only to within about a factor of two where some students
settle on a plateau, and the task that comes out worst is partly the one
whose students were drawn worst. ``--rescore K`` measures it again: the union
of every rule's ``K`` worst tasks (the reference's included) is scored with
``--rescore-students`` fresh students (seeded with ``--random-state`` + 1000
+ the task's index, so a task's students do not depend on which others were
chosen), for every rule and the teacher; then each rule's worst ratio over
those tasks and the share of paired resamples of the new students in which
it is below the reference's. Chosen on one draw of students and measured on
another, the rescored ratios carry no winner's curse.

Run ``python benchmarks/bench_judge.py [RULE ...] [--reference shipped]
[--families 777:32 2024:8 2025:16 2026:16 888:32 4242:32] [--students 60]
[--batch-size 32] [--epochs 100] [--random-state 999] [--student-loss
geometric_mean] [--resamples 1000] [--rescore K] [--rescore-students 300]
[--n-jobs 2] [--save FILE.npz]``. The
default families are the README's 136 held-out tasks; about 50 s of CPU per
rule (and for the teacher) per 32 tasks at batch 32 with 60 students, and
``--rescore`` costs the same per student (4 worst tasks of 6 rules, 13-16
tasks with 300 students, took about as long as 64 tasks with 60).
"""

import argparse
import time

import numpy as np
from joblib import Parallel, delayed

from sk_metabp import pretrained
from sk_metabp.datasets import make_teacher_family
from sk_metabp.refine import (
    resample_ratios,
    soft_worst,
    student_losses,
    task_ratios,
)

#: The README's held-out families (seed: tasks), 136 tasks.
FAMILIES = ("777:32", "2024:8", "2025:16", "2026:16", "888:32", "4242:32")


def _family(text):
    try:
        seed, n = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a family is SEED:N (make_teacher_family(N, random_state=SEED)); "
            f"got {text!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"a family needs at least 1 task; got {n}")
    return seed, n


def _gmean(ratios, axis=-1):
    return np.exp(np.log(ratios).mean(axis))


def scores(ratios, temperature=0.25):
    """Worst ratio, soft worst and geometric mean of each row of ``ratios``."""
    ratios = np.atleast_2d(ratios)
    soft = [soft_worst(r, temperature) for r in ratios]
    return np.array([ratios.max(1), soft, _gmean(ratios)])


def judged(mine, theirs, student_loss, n_resamples, temperature=0.25):
    """A rule's task ratios from its students' and the teacher's losses, their
    three :func:`scores`, and the three scores on each of ``n_resamples``
    paired resamples of the students (the same draws for every rule)."""
    ratios = task_ratios(mine, theirs, student_loss=student_loss)
    resampled = resample_ratios(
        mine,
        theirs,
        student_loss=student_loss,
        n_resamples=n_resamples,
        random_state=0,
    )
    return ratios, scores(ratios, temperature)[:, 0], scores(resampled, temperature)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "rules",
        nargs="*",
        metavar="RULE",
        help="rule folders ('shipped': the package's)",
    )
    parser.add_argument("--reference", default="shipped", metavar="RULE")
    parser.add_argument(
        "--families", type=_family, nargs="+", default=[_family(f) for f in FAMILIES]
    )
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--random-state", type=int, default=999)
    parser.add_argument(
        "--student-loss",
        choices=("mean", "median", "geometric_mean"),
        default="geometric_mean",
    )
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument(
        "--rescore",
        type=int,
        default=0,
        metavar="K",
        help="score every rule's K worst tasks again with fresh students",
    )
    parser.add_argument("--rescore-students", type=int, default=300)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--save", default=None, metavar="FILE", help="every student's loss, as .npz"
    )
    args = parser.parse_args()
    epochs = args.epochs or (100 if args.batch_size > 1 else 30)
    names = [args.reference] + [r for r in args.rules if r != args.reference]

    def folder(name):
        return None if name == "shipped" else name

    info = pretrained.load_manifest(folder(args.reference))
    teacher = pretrained.imitated_teacher(info, args.batch_size)
    if teacher is None:
        parser.error("the reference rule imitated no single teacher at this batch size")
    learners = [pretrained.load(folder(n), batch_size=args.batch_size) for n in names]
    common = dict(
        variables=info["variables"],
        target=info["target"],
        baseline=teacher,
        batch_size=args.batch_size,
        n_epochs=epochs,
        n_students=args.students,
        random_state=args.random_state,
    )
    started = time.perf_counter()
    families = [make_teacher_family(n, random_state=s) for s, n in args.families]
    # one job per family: its students seeded alone, as held-out tasks are
    per_family = Parallel(n_jobs=args.n_jobs)(
        delayed(student_losses)(learners, tasks, **common) for tasks in families
    )
    mine = np.concatenate([m for m, _ in per_family], axis=1)
    theirs = np.concatenate([t for _, t in per_family])
    sizes = [n for _, n in args.families]
    family_of = np.repeat(np.arange(len(sizes)), sizes)
    print(
        f"{len(names)} rules, {theirs.shape[0]} tasks of families "
        f"{', '.join(f'{s}:{n}' for s, n in args.families)}; batch {args.batch_size}, "
        f"{epochs} epochs, {args.students} students each (random_state "
        f"{args.random_state}), {args.student_loss} of the students' losses; "
        f"baseline the reference's teacher {teacher}; "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    saved = dict(rules=np.array(names), learner=mine, baseline=theirs)

    results = [judged(m, theirs, args.student_loss, args.resamples) for m in mine]
    print()
    print(
        "| rule | worst ratio | soft worst | geometric mean | below the teacher | "
        f"lower than {args.reference} in resamples: worst / soft / geometric mean | "
        "geometric mean per family |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (ratios, (worst, soft, gm), again) in zip(names, results):
        lower = (again < results[0][2]).mean(1)
        shares = "-" if name == names[0] else " / ".join(f"{v:.0%}" for v in lower)
        by_family = ", ".join(
            f"{_gmean(ratios[family_of == i]):.3f}" for i in range(len(sizes))
        )
        print(
            f"| {name} | {worst:.3f} (task {int(ratios.argmax())}) | {soft:.3f} | "
            f"{gm:.3f} | {int((ratios < 1).sum())}/{ratios.size} | {shares} | "
            f"{by_family} |"
        )
    if args.rescore:
        tasks = [task for family in families for task in family]
        worst = [np.argsort(ratios)[::-1][: args.rescore] for ratios, _, _ in results]
        chosen = np.unique(np.concatenate(worst))
        started = time.perf_counter()
        rescoring = Parallel(n_jobs=args.n_jobs)(
            delayed(student_losses)(
                learners,
                [tasks[i]],
                **{
                    **common,
                    "n_students": args.rescore_students,
                    "random_state": args.random_state + 1000 + int(i),
                },
            )
            for i in chosen
        )
        mine = np.concatenate([m for m, _ in rescoring], axis=1)
        theirs = np.concatenate([t for _, t in rescoring])
        saved.update(rescored=chosen, learner_rescored=mine, baseline_rescored=theirs)
        rescored = [judged(m, theirs, args.student_loss, args.resamples) for m in mine]
        print()
        print(
            f"Rescored: tasks {', '.join(map(str, chosen))} (every rule's "
            f"{args.rescore} worst), {args.rescore_students} fresh students each; "
            f"{time.perf_counter() - started:.0f} s"
        )
        print()
        print(
            "| rule | worst ratio | lower than "
            f"{args.reference} in resamples | ratio per rescored task |"
        )
        print("|---|---|---|---|")
        for name, (ratios, (top, _, _), again) in zip(names, rescored):
            share = (again[0] < rescored[0][2][0]).mean()
            print(
                f"| {name} | {top:.3f} (task {int(chosen[ratios.argmax()])}) | "
                f"{'-' if name == names[0] else f'{share:.0%}'} | "
                f"{', '.join(f'{r:.3f}' for r in ratios)} |"
            )
    if args.save:
        np.savez(args.save, **saved)


if __name__ == "__main__":
    main()
