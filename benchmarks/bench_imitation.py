"""On-policy imitation against plain imitation, on the paper's experiments.

Runs one experiment of :func:`sk_metabp.experiments.run_experiments` over
several fits with changed imitation settings, and prints one row per fit:
the learner's rows, its error on its students' states, the median final J of
each method, the share of learned students whose error rose and the verdict.
The settings are those of the experiment's catalogue entry unless given.

Run ``python benchmarks/bench_imitation.py --experiment 4 --imitation dagger
--hidden 64,64 --learner-rate 0.01 --rounds 5 [--fits 3] [--seeds 16]``.
"""

import argparse
import time
from dataclasses import replace

from sk_metabp.experiments import EXPERIMENTS, run_experiments


def _sizes(text):
    return tuple(int(s) for s in text.split(",") if s)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="4", help="1 to 4")
    parser.add_argument(
        "--imitation", choices=["teacher", "matched", "dagger"], default="dagger"
    )
    parser.add_argument("--hidden", type=_sizes, help="the learner's hidden layers")
    parser.add_argument("--learner-rate", type=float, help="the learner's rate")
    parser.add_argument("--rounds", type=int, help="imitation_iter")
    parser.add_argument("--rollouts", type=int, help="n_rollouts")
    parser.add_argument("--teacher-share", type=float, help="teacher_share")
    parser.add_argument("--scaling", choices=["clip", "teacher", "none"])
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args(argv)

    name = f"exp{args.experiment.removeprefix('exp')}"
    changes = {
        "learner_hidden": args.hidden,
        "learner_rate": args.learner_rate,
        "imitation_iter": args.rounds,
        "n_rollouts": args.rollouts,
        "teacher_share": args.teacher_share,
        "imitation_scaling": args.scaling,
    }
    experiment = replace(
        EXPERIMENTS[name], **{k: v for k, v in changes.items() if v is not None}
    )
    started = time.perf_counter()
    rep = run_experiments(
        [experiment],
        n_fits=args.fits,
        n_seeds=args.seeds,
        n_jobs=args.n_jobs,
        imitation=args.imitation,
    )
    print(
        f"{name}, imitation={args.imitation}, learner {experiment.learner_hidden}, "
        f"{experiment.imitation_iter} rounds of {experiment.n_rollouts} rollouts, "
        f"teacher_share={experiment.teacher_share}, "
        f"scaling={experiment.imitation_scaling}; {args.fits} fits x "
        f"{args.seeds} seeds in {time.perf_counter() - started:.0f} s"
    )
    columns = [
        "fit",
        "learner_rows",
        "teacher_error",
        "student_error",
        "J_backprop",
        "J_learned",
        "solved_learned",
        "rose_learned",
        "test_accuracy_learned",
        "verdict",
    ]
    print(rep.fits[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    history = rep.imitation_history
    if len(history):
        print(history.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
