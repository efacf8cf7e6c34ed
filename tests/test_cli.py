"""``python -m sk_metabp`` and ``python -m sk_metabp reproduce``."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from sk_metabp.__main__ import MARKER, main

PNG = b"\x89PNG\r\n\x1a\n"
TABLES = ["results.csv", "learner_curves.csv", "fits.csv", "summary.md"]
FIGURES = [
    *(f"learner_error_exp{i}.png" for i in range(1, 5)),
    *(f"training_curve_exp{i}.png" for i in range(1, 5)),
    "test_accuracy_exp4.png",
    "squares_data.png",
]


def _run(*args, code=None):
    """Run ``python -m sk_metabp`` (or ``code``) in a fresh, headless process."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable] + (["-c", code] if code else ["-m", "sk_metabp"])
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_reproduce_quick_writes_every_promised_file(tmp_path):
    out = tmp_path / "nested" / "out"
    proc = _run("reproduce", "--quick", "--out", str(out), "--n-jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # experiment 1 learns on-policy by default: its rounds are in the history
    for name in TABLES + FIGURES + ["imitation_history.csv"]:
        assert (out / name).stat().st_size > 0, name
    history = pd.read_csv(out / "imitation_history.csv")
    assert set(history["experiment"]) == {"exp1"}
    mpimg = pytest.importorskip("matplotlib.image")
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == PNG
        height, width = mpimg.imread(out / name).shape[:2]
        assert height > 100 and width > 100
    results = pd.read_csv(out / "results.csv")
    assert set(results["experiment"]) == {"exp1", "exp2", "exp3", "exp4"}
    # --quick: 2 fits of 4 seeds each
    assert sorted(results["fit"].unique()) == [0, 1]
    assert sorted(results["seed"].unique()) == list(range(8))
    summary = (out / "summary.md").read_text()
    for name in ("exp1", "exp2", "exp3", "exp4"):
        assert name in summary
    assert "2 of 2 fits" in summary or "1 of 2 fits" in summary
    # progress: a line per learner and per seed batch, with the elapsed time
    progress = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 4 * 2 + 4 * 2 * 2
    assert all(" s] exp" in line for line in progress)
    assert "verdict" in proc.stdout


def test_reproduce_options(tmp_path, capsys):
    code = main(
        [
            "reproduce",
            "--quick",
            "--experiments",
            "2,exp1",
            "--seeds",
            "2",
            "--fits",
            "1",
            "--out",
            str(tmp_path),
            "--n-jobs",
            "1",
            "--learner",
            "paper",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "learner 7-3" in out  # the paper's 7-0-3 learner: no hidden layer
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["experiment"]) == {"exp1", "exp2"}
    assert sorted(results["seed"].unique()) == [0, 1]
    assert not (tmp_path / "squares_data.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--experiments", "exp9"], "Unknown experiment 'exp9'"),
        (["--experiments", "1,five"], "Unknown experiment 'five'"),
        (["--seeds", "0"], "--seeds: must be at least 1"),
        (["--seeds", "-3"], "--seeds: must be at least 1"),
        (["--seeds", "many"], "--seeds: expected an integer"),
        (["--seeds", "1001"], "--seeds: at most 1000 seeds"),
        (["--seeds", "99999999999999999999"], "--seeds: at most 1000 seeds"),
        (["--experiments", "1", "1"], "'exp1' asked for more than once"),
        (["--fits", "0"], "--fits: must be at least 1"),
        (["--fits", "51"], "--fits: at most 50 fits"),
        (["--experiments", "exp2,2"], "'exp2' asked for more than once"),
        (["--n-jobs", "0"], "--n-jobs: 0 workers"),
        (["--learner", "huge"], "--learner: invalid choice"),
    ],
)
def test_bad_arguments_exit_with_a_message(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--out", str(tmp_path), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--quick", "--out", str(blocker / "sub")])
    assert exc.value.code == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_bad_arguments_in_a_real_process(tmp_path):
    proc = _run("reproduce", "--experiments", "7", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Unknown experiment '7'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results.csv").exists()


def test_a_huge_seed_count_stops_before_any_work(tmp_path):
    proc = _run(
        "reproduce",
        "--quick",
        "--experiments",
        "1",
        "--seeds",
        "99999999999999999999",
        "--out",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 2
    assert "at most 1000 seeds" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- the output folder: one run, complete or absent --------------------------------

QUICK = ["reproduce", "--quick", "--fits", "1", "--seeds", "1", "--n-jobs", "1"]


def _quick(out, *experiments):
    return main([*QUICK, "--experiments", *experiments, "--out", str(out)])


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_rerun_replaces_the_earlier_run_whole(tmp_path, capsys):
    out = tmp_path / "out"
    assert _quick(out, "2,4") == 0
    assert (out / "squares_data.png").exists()
    assert _quick(out, "2") == 0
    # nothing of experiment 4 is left beside experiment 2's summary
    assert not any("exp4" in p.name or "squares" in p.name for p in out.iterdir())
    listed = (out / MARKER).read_text().splitlines()[1:]
    assert sorted(listed) == sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no leftovers


def test_an_empty_folder_is_used(tmp_path, capsys):
    assert _quick(tmp_path, "2") == 0
    assert (tmp_path / "summary.md").exists()


@pytest.mark.parametrize("marked", [False, True])
def test_other_files_are_never_replaced(tmp_path, capsys, marked):
    out = tmp_path / "out"
    if marked:  # an earlier run, and a file of the user's beside it
        assert _quick(out, "2") == 0
    else:
        out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = _listing(out)
    with pytest.raises(SystemExit) as exc:
        _quick(out, "2")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "holds files this command did not write (notes.txt)" in err
    assert _listing(out) == before


@pytest.mark.parametrize("earlier", [False, True])
def test_an_interrupted_write_leaves_the_earlier_run_or_nothing(
    tmp_path, capsys, monkeypatch, earlier
):
    import sk_metabp.plotting as plotting

    out = tmp_path / "out"
    if earlier:
        assert _quick(out, "2,4") == 0
        before = _listing(out)
    real = plotting.save_figures

    def interrupted(rep, directory, **kwargs):
        real(rep, directory, **kwargs)  # some figures are written, then ^C
        raise KeyboardInterrupt

    monkeypatch.setattr(plotting, "save_figures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _quick(out, "2")
    if earlier:
        assert _listing(out) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    else:
        assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_tables_and_a_hint(tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from sk_metabp.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = _run(
        "reproduce",
        "--quick",
        "--experiments",
        "2",
        "--seeds",
        "1",
        "--n-jobs",
        "1",
        "--out",
        str(tmp_path),
        code=code,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "sk-metabp[plot]"' in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*TABLES, MARKER])


def test_no_arguments_runs_the_demo(capsys, monkeypatch):
    import sk_metabp.__main__ as cli

    monkeypatch.setattr(cli, "DEMO_EPOCHS", 200)  # the paper's 5000, shortened
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "backprop" in out and "learned rule" in out
    assert "python -m sk_metabp reproduce" in out


def test_reproduce_guard(tmp_path, capsys):
    args = ["reproduce", "--quick", "--experiments", "4", "--seeds", "4"]
    code = main([*args, "--n-jobs", "1", "--out", str(tmp_path), "--guard"])
    assert code == 0
    assert "guarded" in capsys.readouterr().out
    summary = (tmp_path / "summary.md").read_text()
    assert "learned students guarded" in summary
    assert "of the learned students fell back to backprop" in summary


def test_reproduce_on_policy_imitation(tmp_path, capsys):
    args = ["reproduce", "--quick", "--experiments", "2", "--seeds", "2"]
    code = main([*args, "--fits", "1", "--n-jobs", "1", "--out", str(tmp_path)])
    assert code == 0 and not (tmp_path / "imitation_history.csv").exists()
    code = main(
        [
            *args,
            "--fits",
            "1",
            "--n-jobs",
            "1",
            "--imitation",
            "dagger",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "imitation=dagger" in capsys.readouterr().out
    history = pd.read_csv(tmp_path / "imitation_history.csv")
    assert history.columns[:3].tolist() == ["experiment", "fit", "iteration"]
    assert history["iteration"].tolist() == [0, 1]
    fits = pd.read_csv(tmp_path / "fits.csv")
    assert fits.loc[0, "learner_rows"] == history["rows"].iloc[-1]
