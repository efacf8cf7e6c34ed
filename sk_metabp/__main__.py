"""``python -m sk_metabp``: the paper's first experiment, or all four reproduced.

``python -m sk_metabp`` trains the paper's AND network once with backprop and
once with a learned rule and compares them. ``python -m sk_metabp reproduce``
runs the four experiments over many seeds and writes ``results.csv``,
``learner_curves.csv``, ``summary.md`` and PNG figures. ``python -m sk_metabp
pretrain --out DIR`` rebuilds the shipped pretrained rule
(:mod:`sk_metabp.pretrained`), on a dask cluster with ``--scheduler``.

The output folder holds one run, complete: everything is written into a hidden
sibling folder first, which then takes the folder's place. A folder is replaced
only when it is empty or holds nothing but what an earlier ``reproduce`` wrote
(listed in its :data:`MARKER` file); any other folder is refused.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .experiments import (
    DEFAULT_FITS,
    EXPERIMENTS,
    PAPER_TIMES,
    format_summary,
    resolve_experiments,
    run_experiments,
)
from .pretrained import RECIPE, RECIPES, REFINE_SEED, TEACHERS, TRUST_RADIUS

#: Seeds per method and experiment when --seeds is not given.
DEFAULT_SEEDS = 32
QUICK_SEEDS = 4
#: Independent fits of each experiment's learner when --fits is not given.
QUICK_FITS = 2
#: The most fits --fits accepts.
MAX_FITS = 50
#: The most seeds --seeds accepts (per method and experiment): about half an
#: hour on 2 cores, and well within memory.
MAX_SEEDS = 1000
#: The file that marks a folder as written by ``reproduce``; it lists the files.
MARKER = ".sk-metabp-reproduce"
DEFAULT_OUT = "metabp-reproduction"
#: Training cycles of the demo: experiment 1's.
DEMO_EPOCHS = 5000


def demo():
    """Experiment 1 once: backprop against the learned rule, on one seed."""
    from . import BackpropMLPClassifier, LearnedRuleMLPClassifier
    from .datasets import make_boolean

    X, y = make_boolean("and")
    E = DEMO_EPOCHS
    print("Experiment 1 of the paper: AND on a 2-1-1 sigmoid network, online")
    print(f"training at rate 0.23 for {E} cycles, one seed.")
    bp = BackpropMLPClassifier(
        (1,), learning_rate_init=0.23, max_iter=E, random_state=0
    )
    start = time.perf_counter()
    bp.fit(X, y)
    t_bp = time.perf_counter() - start
    start = time.perf_counter()
    clf = LearnedRuleMLPClassifier((1,), max_iter=E, random_state=0).fit(X, y)
    t_all = time.perf_counter() - start
    # time the student alone, as the paper times training with the learning net
    data = clf.training_data(X, y)
    start = time.perf_counter()
    clf.train_students(data, [0])
    t_student = time.perf_counter() - start
    rows = clf.recorder_.features_.shape[0]
    print(
        f"  learner: fitted on {rows:,} recorded backprop updates of "
        f"{clf.n_teacher_runs} runs ({t_all - t_student:.1f} s)"
    )
    for name, est, t in (("backprop", bp, t_bp), ("learned rule", clf, t_student)):
        print(
            f"  {name:13s} J after cycle 1 {est.loss_curve_[0]:.4f}, after cycle "
            f"{est.n_iter_} {est.loss_curve_[-1]:.6f}; predictions "
            f"{est.predict(X).tolist()} (truth {y.tolist()}); {t:.2f} s"
        )
    print(
        "The paper: learned rule better than backprop, "
        f"{PAPER_TIMES['learned']} s against {PAPER_TIMES['backprop']} s.\n"
        "For all four experiments over many seeds, with figures:\n"
        "  python -m sk_metabp reproduce        (about a minute on 2 cores)"
    )
    return 0


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seeds(text):
    value = _positive_int(text)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_SEEDS} seeds per method and experiment, got {value}"
        )
    return value


def _fits(text):
    value = _positive_int(text)
    if value > MAX_FITS:
        raise argparse.ArgumentTypeError(f"at most {MAX_FITS} fits, got {value}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 workers; use 1, more, or -1 for all cores")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sk_metabp",
        description="Learning to learn by imitation. Without a command: the "
        "paper's experiment 1, once. 'reproduce': all four experiments over "
        "many seeds, with tables and figures.",
    )
    sub = parser.add_subparsers(dest="command")
    rep = sub.add_parser(
        "reproduce",
        help="reproduce the paper's four experiments over many seeds",
        description="Fit a learner per experiment, train backprop and "
        "learned-rule networks from many seeds, compare them with the paper's "
        "claims. Writes results.csv, learner_curves.csv, summary.md and PNG "
        "figures (with matplotlib) into --out.",
    )
    rep.add_argument(
        "--experiments",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"which experiments: names or numbers, e.g. '1 4' or 'exp1,exp4' "
        f"(default: all of {', '.join(EXPERIMENTS)})",
    )
    rep.add_argument(
        "--seeds",
        type=_seeds,
        default=None,
        help=f"seeds per method and experiment, 1 to {MAX_SEEDS} (default "
        f"{DEFAULT_SEEDS}; {QUICK_SEEDS} with --quick)",
    )
    rep.add_argument(
        "--fits",
        type=_fits,
        default=None,
        help=f"independent fits of each experiment's learner, 1 to {MAX_FITS}: "
        "each fit records its own teacher runs, fits its own learner and trains "
        f"its own students (default {DEFAULT_FITS}; {QUICK_FITS} with --quick)",
    )
    rep.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"folder for the tables and figures (default ./{DEFAULT_OUT}); it "
        "must be new, empty, or an earlier output of this command, which the new "
        "run replaces whole once it is complete",
    )
    rep.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=-1,
        help="joblib workers (default -1: all cores)",
    )
    rep.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings, a few seconds: a smoke test, not a reproduction",
    )
    rep.add_argument(
        "--learner",
        choices=["default", "paper"],
        default="default",
        help="the learning network: 'default' has 32 hidden units; 'paper' the "
        "paper's 2, 0, 3 and 3",
    )
    rep.add_argument(
        "--imitation",
        choices=["teacher", "matched", "dagger"],
        default=None,
        help="how the learner learns: 'teacher' from the recorded teacher runs "
        "(the paper's way); 'dagger' adds rounds of on-policy imitation (students "
        "trained by the learned rule, labelled with the teacher's change at "
        "their states); 'matched' records as many more teacher runs instead "
        "(default: each experiment's own, on-policy for exp1, 'teacher' for "
        "the others)",
    )
    rep.add_argument(
        "--guard",
        action="store_true",
        help="beyond the paper: a learned student whose error rises falls back "
        "to backprop from its best epoch (on_divergence='fallback')",
    )
    pre = sub.add_parser(
        "pretrain",
        help="rebuild the pretrained learned rule (sk_metabp.pretrained)",
        description="Score the candidate teachers on the library's synthetic "
        "tasks, record the chosen ones in link mode, fit one learner per batch "
        "size and write learner.npz and manifest.json into --out. The same "
        "--random-state gives the same weights.",
    )
    pre.add_argument("--out", required=True, help="folder to write")
    pre.add_argument(
        "--random-state", type=int, default=0, help="seed of everything (default 0)"
    )
    pre.add_argument(
        "--budget",
        choices=["full", "tiny"],
        default="full",
        help="'full' (minutes; the shipped rule's) or 'tiny' (seconds, a smoke test)",
    )
    pre.add_argument(
        "--teachers",
        nargs="+",
        default=None,
        choices=list(TEACHERS),
        metavar="NAME",
        help=f"candidate teachers among {', '.join(repr(t) for t in TEACHERS)} "
        "(default: the recipe's)",
    )
    pre.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default=RECIPE,
        help="the variables, target and teachers (sk_metabp.pretrained.RECIPES; "
        f"default {RECIPE!r}, the shipped rule's)",
    )
    pre.add_argument(
        "--choice",
        choices=["suite", "task"],
        default="suite",
        help="record every task with the teacher best over all tasks (suite, "
        "the shipped rule's) or with each task's own best (task)",
    )
    pre.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="rounds of on-policy imitation after the first fit (default 0)",
    )
    pre.add_argument(
        "--refine-seed",
        type=int,
        default=REFINE_SEED,
        metavar="S",
        help="after the fit, refine the batch-32 learner by trial and error with "
        f"seed S (sk_metabp.pretrained.REFINEMENT; default {REFINE_SEED}, the "
        "shipped rule's)",
    )
    pre.add_argument(
        "--trust-radius",
        type=float,
        default=TRUST_RADIUS,
        metavar="R",
        help="keep the refined weights within R times their norm of the "
        f"imitated learner's (default {TRUST_RADIUS}, the shipped rule's)",
    )
    pre.add_argument(
        "--no-refine",
        action="store_true",
        help="keep the imitated learners (no refinement; needed with --choice task)",
    )
    pre.add_argument(
        "--n-jobs", type=_n_jobs, default=None, help="joblib workers (default 1)"
    )
    pre.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the tasks on the existing dask cluster at ADDRESS (needs "
        "distributed installed)",
    )
    return parser


def pretrain(args):
    """The ``pretrain`` command: build the rule, locally or on a dask cluster."""
    from contextlib import nullcontext

    from .pretrained import pretrain as build

    context, client = nullcontext(), None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            print(
                "--scheduler needs dask's distributed package: pip install distributed",
                file=sys.stderr,
            )
            return 2
        import joblib

        client = Client(args.scheduler)
        print(f"running on the dask cluster at {args.scheduler}", flush=True)
        context = joblib.parallel_config(backend="dask", n_jobs=-1)
    try:
        with context:
            build(
                args.out,
                budget=args.budget,
                random_state=args.random_state,
                teachers=args.teachers,
                choice=args.choice,
                recipe=args.recipe,
                rounds=args.rounds,
                refine_seed=None if args.no_refine else args.refine_seed,
                trust_radius=args.trust_radius,
                n_jobs=args.n_jobs,
            )
    finally:
        if client is not None:
            client.close()
    return 0


def _foreign_files(path):
    """Names in the folder ``path`` that an earlier ``reproduce`` did not write."""
    names = set(os.listdir(path))
    marker = path / MARKER
    if names and marker.is_file():
        names -= {MARKER, *marker.read_text(encoding="utf-8").splitlines()[1:]}
    return sorted(names)


def _check_out(parser, out):
    """The output folder, if this command may (re)place it; else stop with a message.

    Proves the parent writable by making (and removing) a sibling folder, as
    the run's outputs will be written into one.
    """
    path = Path(out).absolute()
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            parser.error(f"--out {str(out)!r} is not a folder.")
        foreign = _foreign_files(path)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            parser.error(
                f"--out {str(out)!r} holds files this command did not write "
                f"({shown}); choose a new or empty folder, or move them away."
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(_sibling(path, "partial"))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        parser.error(f"cannot write to --out {str(out)!r}: {reason}")
    return path


def _sibling(path, what):
    """A new hidden folder beside ``path``, for a run being written or replaced."""
    return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{what}-"))


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM until the block ends (where the OS allows it)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_outputs(rep, out):
    """Write the run's tables and figures to ``out``: all of them, or none.

    They are written into a hidden sibling folder, which then takes the place
    of ``out`` (see :func:`_move_into_place`), so that an interrupted run
    leaves the earlier complete run, or no folder.

    Returns
    -------
    written : list of str
        The names of the files written.
    """
    partial = _sibling(out, "partial")
    try:
        rep.results.to_csv(partial / "results.csv", index=False)
        rep.learner_curves.to_csv(partial / "learner_curves.csv", index=False)
        rep.fits.to_csv(partial / "fits.csv", index=False)
        if rep.imitation_history is not None and len(rep.imitation_history):
            rep.imitation_history.to_csv(partial / "imitation_history.csv", index=False)
        (partial / "summary.md").write_text(rep.to_markdown(), encoding="utf-8")
        try:
            from .plotting import save_figures

            save_figures(rep, partial)
        except ImportError as exc:
            print(f"No figures: {exc}")
        written = sorted(os.listdir(partial))
        (partial / MARKER).write_text(
            "\n".join(["python -m sk_metabp reproduce wrote:", *written]) + "\n",
            encoding="utf-8",
        )
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _move_into_place(partial, out)
    return written


def _move_into_place(partial, out):
    """Replace ``out`` (absent, empty, or an earlier run's) by the folder ``partial``.

    Two renames and the removal of the earlier run, with SIGINT and SIGTERM
    held: an interruption takes effect before them or after all three.

    Raises
    ------
    FileExistsError
        When ``out`` gained files of another origin during the run; ``partial``
        is kept, and the message says where.
    """
    with _signals_held():
        if out.exists():
            foreign = _foreign_files(out)
            if foreign:
                raise FileExistsError(
                    f"{out} gained files during the run ({', '.join(foreign)}); it "
                    f"is left as it is, and this run's outputs are in {partial}."
                )
            old = _sibling(out, "old")
            os.replace(out, old / out.name)
            os.replace(partial, out)
            shutil.rmtree(old)
        else:
            os.replace(partial, out)


def reproduce(args, parser):
    """The ``reproduce`` command; returns the exit status."""
    names = None
    if args.experiments:
        names = [n for item in args.experiments for n in item.split(",") if n.strip()]
    try:
        experiments = resolve_experiments(names)
    except ValueError as exc:
        parser.error(str(exc))
    out = _check_out(parser, args.out)
    n_seeds = args.seeds or (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    n_fits = args.fits or (QUICK_FITS if args.quick else DEFAULT_FITS)
    imitation = args.imitation or "each experiment's own"
    print(
        f"Reproducing {', '.join(e.name for e in experiments)} over {n_fits} fits "
        f"with {n_seeds} seeds per method and fit"
        f"{' (quick mode: a smoke test)' if args.quick else ''}, "
        f"n_jobs={args.n_jobs}, learner={args.learner}"
        f"{', guarded' if args.guard else ''}, imitation={imitation}; "
        f"writing to {out}",
        flush=True,
    )
    start = time.perf_counter()
    rep = run_experiments(
        experiments,
        n_fits=n_fits,
        n_seeds=n_seeds,
        n_jobs=args.n_jobs,
        quick=args.quick,
        learner=args.learner,
        guard=args.guard,
        imitation=args.imitation,
        verbose=True,
    )
    try:
        written = write_outputs(rep, out)
    except FileExistsError as exc:
        print(f"Not written: {exc}", file=sys.stderr)
        return 1
    print(f"\nDone in {time.perf_counter() - start:.1f} s.\n")
    print(format_summary(rep.summary))
    print()
    for _, r in rep.summary.iterrows():
        print(
            f"{r['experiment']}: {r['verdict']} in {r['verdict_fits']:.0%} of "
            f"{r['n_fits']} fits ({r['reason']})"
        )
    print("\nThe paper's claims and the settings it leaves open (chosen here) are in")
    print(f"{out / 'summary.md'}.")
    print("\nWrote " + ", ".join(written) + f" in {out}")
    return 0


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "reproduce":
        return reproduce(args, parser)
    if args.command == "pretrain":
        if args.choice == "task" and not args.no_refine:
            parser.error(
                "--choice task records each task with its own teacher, and "
                "refinement scores against the one teacher a rule imitated: add "
                "--no-refine"
            )
        return pretrain(args)
    return demo()


if __name__ == "__main__":
    sys.exit(main())
