"""Display objects: numbers they draw, artists they keep, missing matplotlib."""

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from sk_metabp import BackpropMLPClassifier, BackpropMLPRegressor  # noqa: E402
from sk_metabp.datasets import make_boolean, make_squares  # noqa: E402
from sk_metabp.plotting import (  # noqa: E402
    LearnerErrorDisplay,
    SquaresDisplay,
    TrainingCurveDisplay,
    save_figures,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _frame(experiments=("exp1",), seeds=4, epochs=5):
    """A tidy results frame with known numbers: J = (seed + 1) * 10**-epoch."""
    rows = []
    for e in experiments:
        for method, factor in (("backprop", 1.0), ("learned", 2.0)):
            for s in range(seeds):
                for ep in range(1, epochs + 1):
                    rows.append((e, method, s, ep, factor * (s + 1) * 10.0**-ep))
    df = pd.DataFrame(rows, columns=["experiment", "method", "seed", "epoch", "J"])
    df["train_accuracy"] = 1.0
    df["test_accuracy"] = np.nan
    return df


def test_training_curve_from_results_median_and_quartiles():
    df = _frame()
    disp = TrainingCurveDisplay.from_results(df)
    assert sorted(disp.lines_) == ["backprop", "learned"]
    assert sorted(disp.bands_) == ["backprop", "learned"]
    epochs, med, lower, upper = disp.curves["learned"]
    np.testing.assert_array_equal(epochs, np.arange(1, 6))
    # seeds 0..3 give factors 1..4: median 2.5, quartiles 1.75 and 3.25
    scale = 2.0 * 10.0 ** -np.arange(1, 6)
    np.testing.assert_allclose(med, 2.5 * scale)
    np.testing.assert_allclose(lower, 1.75 * scale)
    np.testing.assert_allclose(upper, 3.25 * scale)
    np.testing.assert_allclose(disp.lines_["learned"].get_ydata(), med)
    assert disp.ax_.get_yscale() == "log"
    assert "4 seeds" in disp.ax_.get_title()
    assert disp.figure_ is disp.ax_.figure


def test_training_curve_needs_an_experiment_when_several():
    df = _frame(("exp1", "exp4"))
    with pytest.raises(ValueError, match="pass experiment="):
        TrainingCurveDisplay.from_results(df)
    with pytest.raises(ValueError, match="No experiment 'exp2'"):
        TrainingCurveDisplay.from_results(df, "exp2")
    with pytest.raises(ValueError, match="No column 'speed'"):
        TrainingCurveDisplay.from_results(df, "exp1", metric="speed")
    _, ax = plt.subplots()
    disp = TrainingCurveDisplay.from_results(df, "exp4", metric="train_accuracy", ax=ax)
    assert disp.ax_ is ax and ax.get_yscale() == "linear"


def test_training_curve_from_estimator():
    X, y = make_boolean("and")
    nets = [
        BackpropMLPClassifier((1,), max_iter=30, random_state=s).fit(X, y)
        for s in range(3)
    ]
    one = TrainingCurveDisplay.from_estimator(nets[0], label="seed 0")
    assert list(one.lines_) == ["seed 0"] and not one.bands_
    np.testing.assert_allclose(one.lines_["seed 0"].get_ydata(), nets[0].loss_curve_)
    many = TrainingCurveDisplay.from_estimator(nets)
    expected = np.median([n.loss_curve_ for n in nets], axis=0)
    np.testing.assert_allclose(many.curves["backprop"][1], expected)
    with pytest.raises(ValueError, match="no loss_curve_"):
        TrainingCurveDisplay.from_estimator(BackpropMLPClassifier())


def test_learner_error_display():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(50, 3))
    reg = BackpropMLPRegressor((4,), max_iter=7, random_state=0).fit(X, X[:, :2])
    disp = LearnerErrorDisplay.from_estimator(reg)
    np.testing.assert_allclose(disp.line_.get_ydata(), reg.loss_curve_)
    assert disp.ax_.get_xlabel() == "learner epoch"
    frame = pd.DataFrame(
        {"experiment": "exp2", "epoch": [2, 1, 3], "loss": [0.5, 1.0, 0.25]}
    )
    disp = LearnerErrorDisplay.from_results(frame, log_scale=False)
    np.testing.assert_allclose(disp.line_.get_ydata(), [1.0, 0.5, 0.25])
    assert "exp2" in disp.ax_.get_title()
    with pytest.raises(ValueError, match="no loss_curve_"):
        LearnerErrorDisplay.from_estimator(BackpropMLPRegressor())


def test_squares_display():
    X_tr, X_te, Y_tr, Y_te = make_squares(40, 30, random_state=0)
    disp = SquaresDisplay.from_data(X_tr, Y_tr, X_te, Y_te)
    assert len(disp.axes_) == 2
    inside, outside = disp.axes_[0].collections[:2]
    assert len(inside.get_offsets()) == Y_tr[:, 0].sum()
    assert len(outside.get_offsets()) == 40 - Y_tr[:, 0].sum()
    # a 1-d target (1 = inside) and the training set alone
    one = SquaresDisplay.from_data(X_tr, Y_tr[:, 0])
    assert len(one.axes_) == 1
    assert len(one.axes_[0].collections[0].get_offsets()) == Y_tr[:, 0].sum()


def test_save_figures_writes_pngs(tmp_path):
    from sk_metabp.experiments import run_experiments

    rep = run_experiments(["exp4"], n_seeds=2, quick=True, n_jobs=1, curve_points=5)
    paths = save_figures(rep, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "learner_error_exp4.png",
        "squares_data.png",
        "test_accuracy_exp4.png",
        "training_curve_exp4.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert mpimg.imread(p).shape[0] > 100


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    disp = TrainingCurveDisplay({"backprop": ([1, 2], [0.2, 0.1], None, None)})
    with pytest.raises(ImportError, match=r'pip install "sk-metabp\[plot\]"'):
        disp.plot()
    with pytest.raises(ImportError, match="LearnerErrorDisplay needs matplotlib"):
        LearnerErrorDisplay([1.0, 0.5]).plot()
    with pytest.raises(ImportError, match="sk-metabp"):
        save_figures(None, ".")
