"""Benchmark: what recording costs, in time and memory.

Cases, all in this one run:

1. the paper's experiment 1 (AND on a 2-1-1 network, rate 0.23, 5000 epochs,
   online): ``BackpropMLPClassifier.fit`` against ``TrajectoryRecorder.record``
   of the same training in network mode (every update kept, float32, the
   DataFrame built). Target: recording <= 1.5x the time of training.
2. a 2-5-2 network on 200 points of the inner-square task, 200 epochs online,
   recorded in link mode: 40,000 updates x 27 links = 1,080,000 rows. Targets:
   ``record`` (training, rows and DataFrame) <= 5 s, and peak memory <= 500 MB.
   Peak memory is the peak resident set size of a fresh Python process that
   imports the library, makes the data and records once, the interpreter,
   numpy, pandas and scikit-learn included: ``VmHWM`` from
   ``/proc/self/status`` on Linux, else ``getrusage``'s ``ru_maxrss`` (see
   :func:`peak_rss_mb`). The increase over that process's peak before
   recording and the peak of numpy's and Python's own allocations during
   ``record`` (``tracemalloc``, in another fresh process) are shown too.
3. lockstep: 64 runs of experiment 1 (500 epochs) recorded by one recorder
   (``n_runs=64``, one stack) against 64 recorders of one run each, one after
   the other. No target; the ratio is the lockstep speed-up.

Timings are medians of ``--repeats`` runs (``--quick``: a tenth of the epochs,
2 repeats; the targets then do not apply).

Run ``python benchmarks/bench_recorder.py [--repeats N] [--quick]``.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import sklearn

from sk_metabp import BackpropMLPClassifier, TrajectoryRecorder
from sk_metabp.datasets import make_boolean, make_squares

RATE = 0.23
TARGET_OVERHEAD = 1.5
TARGET_LINK_SECONDS = 5.0
TARGET_LINK_MB = 500.0


def and_net(epochs, seed=0):
    return BackpropMLPClassifier(
        hidden_layer_sizes=(1,),
        learning_rate_init=RATE,
        max_iter=epochs,
        random_state=seed,
    )


def square_net(epochs):
    return BackpropMLPClassifier(
        hidden_layer_sizes=(5,),
        learning_rate_init=RATE,
        max_iter=epochs,
        random_state=0,
    )


def median_times(fns, repeats):
    """Median seconds of each ``fn()`` over ``repeats`` rounds, and their results.

    The functions take turns within each round, so that a change in the
    machine's load during the run falls on all of them alike.
    """
    times = [[] for _ in fns]
    results = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], results


def link_recording(epochs):
    X, _, Y, _ = make_squares(200, 0, random_state=0)
    rec = TrajectoryRecorder(square_net(epochs), mode="link", random_state=0)
    return rec, X, Y


def peak_rss_mb():
    """Peak resident set size of this process so far, in MB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this
    process's own memory. ``getrusage``'s ``ru_maxrss`` would do elsewhere, but
    on Linux it also counts the parent's size at the moment it forked this
    process, so it is only the fallback.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def child(kind, epochs):
    """Record case 2 once in this (fresh) process and print its memory as JSON."""
    import tracemalloc

    rec, X, Y = link_recording(epochs)
    if kind == "tracemalloc":
        tracemalloc.start()
        frame = rec.record(X, Y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result = {"tracemalloc_mb": peak / 2**20}
    else:
        before = peak_rss_mb()
        frame = rec.record(X, Y)
        result = {"before_mb": before, "peak_mb": peak_rss_mb()}
    result["rows"] = len(frame)
    print(json.dumps(result))


def measure_in_fresh_process(kind, epochs):
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--epochs", str(epochs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the epochs, 2 repeats"
    )
    parser.add_argument(
        "--child", choices=["rss", "tracemalloc"], help=argparse.SUPPRESS
    )
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.epochs)
        return 0
    repeats = 2 if args.quick else args.repeats
    scale = 10 if args.quick else 1
    and_epochs, sq_epochs, lock_epochs = 5000 // scale, 200 // scale, 500 // scale
    n_lock = 64

    print(
        f"numpy {np.__version__}, pandas {pd.__version__}, scikit-learn "
        f"{sklearn.__version__}, Python {platform.python_version()}; median of "
        f"{repeats} runs{' (quick: targets do not apply)' if args.quick else ''}\n"
    )
    rows = []
    ok = True

    # 1. experiment 1, with and without recording
    X, y = make_boolean("and")
    (t_fit, t_rec), (_, frame) = median_times(
        [
            lambda: and_net(and_epochs).fit(X, y),
            lambda: TrajectoryRecorder(and_net(and_epochs), random_state=0).record(
                X, y
            ),
        ],
        repeats,
    )
    assert len(frame) == and_epochs * len(X)
    ratio = t_rec / t_fit
    ok &= ratio <= TARGET_OVERHEAD
    rows.append(
        (
            f"exp. 1 AND 2-1-1, {and_epochs} ep.: fit | record",
            f"{t_fit:.3f} s",
            f"{t_rec:.3f} s",
            f"{ratio:.2f}x",
            f"<= {TARGET_OVERHEAD}x",
            ratio <= TARGET_OVERHEAD,
        )
    )

    # 2. link mode, 1.08 million rows: time here, memory in fresh processes
    rec, Xs, Ys = link_recording(sq_epochs)
    (t_link,), (frame,) = median_times([lambda: rec.record(Xs, Ys)], repeats)
    n_rows = len(frame)
    del frame
    mem = measure_in_fresh_process("rss", sq_epochs)
    traced = measure_in_fresh_process("tracemalloc", sq_epochs)
    assert mem["rows"] == traced["rows"] == n_rows
    met = t_link <= TARGET_LINK_SECONDS
    ok &= met
    rows.append(
        (
            f"squares 2-5-2 link, {sq_epochs} ep.: record",
            f"{n_rows:,} rows",
            f"{t_link:.3f} s",
            "",
            f"<= {TARGET_LINK_SECONDS:g} s",
            met,
        )
    )
    met = mem["peak_mb"] <= TARGET_LINK_MB
    ok &= met
    rows.append(
        (
            "  peak RSS of a fresh process (VmHWM)",
            f"{mem['before_mb']:.0f} MB before",
            f"{mem['peak_mb']:.0f} MB",
            f"+{mem['peak_mb'] - mem['before_mb']:.0f} MB",
            f"<= {TARGET_LINK_MB:g} MB",
            met,
        )
    )
    rows.append(
        (
            "  peak allocations in record (tracemalloc)",
            "",
            f"{traced['tracemalloc_mb']:.0f} MB",
            "",
            "",
            None,
        )
    )

    # 3. lockstep against one by one
    (t_stack, t_each), _ = median_times(
        [
            lambda: TrajectoryRecorder(
                and_net(lock_epochs), n_runs=n_lock, random_state=0
            ).record(X, y),
            lambda: [
                TrajectoryRecorder(and_net(lock_epochs), random_state=s).record(X, y)
                for s in range(n_lock)
            ],
        ],
        repeats,
    )
    rows.append(
        (
            f"{n_lock} runs exp. 1, {lock_epochs} ep.: one by one | lockstep",
            f"{t_each:.3f} s",
            f"{t_stack:.3f} s",
            f"{t_each / t_stack:.1f}x faster",
            "",
            None,
        )
    )

    header = ("case", "baseline", "recorded", "ratio", "target", "met")
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(5)]
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(line.format(*header))
    print("-" * (sum(widths) + 2 * 5 + 3))
    for r in rows:
        print(line.format(*r[:5], "" if r[5] is None else ("yes" if r[5] else "NO")))
    if not args.quick:
        print(f"\nall targets met: {'yes' if ok else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
