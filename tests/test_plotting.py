"""Display objects: numbers they draw, artists they keep, missing matplotlib."""

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_metabp import (  # noqa: E402
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
)
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


@pytest.fixture(scope="module")
def learned_clf():
    X, y = make_boolean("and")
    return LearnedRuleMLPClassifier(
        (1,), max_iter=50, n_teacher_runs=2, random_state=0
    ).fit(X, y)


@pytest.fixture(scope="module")
def learner():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(50, 3))
    return BackpropMLPRegressor((4,), max_iter=7, random_state=0).fit(X, X[:, :2])


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


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
    one = TrainingCurveDisplay.from_estimator(nets[0], name="seed 0")
    assert list(one.lines_) == ["backprop"] and not one.bands_
    assert _legend(one.ax_) == ["seed 0"]
    np.testing.assert_allclose(one.lines_["backprop"].get_ydata(), nets[0].loss_curve_)
    many = TrainingCurveDisplay.from_estimator(nets)
    expected = np.median([n.loss_curve_ for n in nets], axis=0)
    np.testing.assert_allclose(many.curves["backprop"][1], expected)
    assert _legend(many.ax_) == ["backprop"]
    with pytest.raises(ValueError, match="LinearRegression records no loss_curve_"):
        TrainingCurveDisplay.from_estimator(LinearRegression().fit(X, y))


def test_from_estimator_unwraps_pipelines_and_searches(learned_clf, learner):
    X, y = make_blobs(40, centers=2, random_state=0)
    net = BackpropMLPClassifier((2,), max_iter=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), net).fit(X, y)
    disp = TrainingCurveDisplay.from_estimator(pipe)
    np.testing.assert_allclose(
        disp.lines_["backprop"].get_ydata(), pipe[-1].loss_curve_
    )

    pipe = make_pipeline(StandardScaler(), net)
    search = GridSearchCV(pipe, {"backpropmlpclassifier__max_iter": [3, 6]}, cv=2)
    search.fit(X, y)
    disp = TrainingCurveDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    np.testing.assert_allclose(disp.lines_["backprop"].get_ydata(), best.loss_curve_)

    no_refit = GridSearchCV(net, {"max_iter": [3, 6]}, cv=2, refit=False).fit(X, y)
    with pytest.raises(ValueError, match="refit=False"):
        TrainingCurveDisplay.from_estimator(no_refit)

    # the learner of a learned-rule classifier in a pipeline; a learner in one
    in_pipe = make_pipeline("passthrough", learned_clf)
    disp = LearnerErrorDisplay.from_estimator(in_pipe)
    np.testing.assert_allclose(disp.line_.get_ydata(), learned_clf.learner_.loss_curve_)
    rng = np.random.RandomState(0)
    Xl = rng.uniform(size=(30, 3))
    scaled = make_pipeline(StandardScaler(), BackpropMLPRegressor(max_iter=4))
    scaled.fit(Xl, Xl[:, :2])
    disp = LearnerErrorDisplay.from_estimator(scaled)
    np.testing.assert_allclose(disp.line_.get_ydata(), scaled[-1].loss_curve_)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TrainingCurveDisplay.from_estimator(BackpropMLPClassifier()),
        lambda: TrainingCurveDisplay.from_estimator([BackpropMLPClassifier()]),
        lambda: TrainingCurveDisplay.from_estimator(
            make_pipeline(StandardScaler(), BackpropMLPClassifier())
        ),
        lambda: TrainingCurveDisplay.from_estimator(
            GridSearchCV(BackpropMLPClassifier(), {"max_iter": [3, 6]})
        ),
        lambda: LearnerErrorDisplay.from_estimator(LearnedRuleMLPClassifier()),
        lambda: LearnerErrorDisplay.from_estimator(BackpropMLPRegressor()),
        lambda: LearnerErrorDisplay.from_estimator(
            FrozenEstimator(BackpropMLPRegressor())
        ),
    ],
)
def test_unfitted_estimator_is_not_fitted_error(make):
    with pytest.raises(NotFittedError):
        make()


def test_learner_error_display(learner):
    disp = LearnerErrorDisplay.from_estimator(learner)
    np.testing.assert_allclose(disp.line_.get_ydata(), learner.loss_curve_)
    assert disp.ax_.get_xlabel() == "learner epoch"
    assert disp.figure_ is disp.ax_.figure
    assert _legend(disp.ax_) == ["learner"]
    frozen = LearnerErrorDisplay.from_estimator(FrozenEstimator(learner))
    np.testing.assert_allclose(frozen.line_.get_ydata(), learner.loss_curve_)
    frame = pd.DataFrame(
        {"experiment": "exp2", "epoch": [2, 1, 3], "loss": [0.5, 1.0, 0.25]}
    )
    disp = LearnerErrorDisplay.from_results(frame, log_scale=False)
    np.testing.assert_allclose(disp.line_.get_ydata(), [1.0, 0.5, 0.25])
    assert "exp2" in disp.ax_.get_title()
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(20, 3))
    with pytest.raises(ValueError, match="LinearRegression records no loss_curve_"):
        LearnerErrorDisplay.from_estimator(LinearRegression().fit(X, X[:, :2]))


def test_learner_error_shows_the_learner_of_a_learned_classifier(learned_clf):
    disp = LearnerErrorDisplay.from_estimator(learned_clf)
    np.testing.assert_allclose(disp.line_.get_ydata(), learned_clf.learner_.loss_curve_)
    assert len(learned_clf.learner_.loss_curve_) != len(learned_clf.loss_curve_)


def test_learner_error_refuses_a_network_without_learner():
    X, y = make_boolean("and")
    net = BackpropMLPClassifier((1,), max_iter=5, random_state=0).fit(X, y)
    for estimator in (net, make_pipeline(StandardScaler(), net)):
        with pytest.raises(ValueError, match="BackpropMLPClassifier has no learner_"):
            LearnerErrorDisplay.from_estimator(estimator)
    with pytest.raises(ValueError, match="TrainingCurveDisplay.from_estimator"):
        LearnerErrorDisplay.from_estimator(net)


def test_name_labels_the_lines():
    df = _frame()
    disp = TrainingCurveDisplay.from_results(df)
    assert _legend(disp.ax_) == ["backprop", "learned"]
    disp = TrainingCurveDisplay.from_results(df, name="exp1")
    assert _legend(disp.ax_) == ["exp1: backprop", "exp1: learned"]
    disp = TrainingCurveDisplay.from_results(df, name=["BP", "LR"])
    assert _legend(disp.ax_) == ["BP", "LR"]
    assert disp.lines_["learned"].get_label() == "LR"
    with pytest.raises(ValueError, match="name has 1 labels for 2 curves"):
        TrainingCurveDisplay.from_results(df, name=["BP"])
    # plot's name replaces the constructor's
    curves = {"backprop": ([1, 2], [0.2, 0.1], None, None)}
    disp = TrainingCurveDisplay(curves, name="one").plot()
    assert _legend(disp.ax_) == ["one"]
    assert _legend(disp.plot(name="two").ax_) == ["two"]

    frame = pd.DataFrame({"experiment": "exp2", "epoch": [1, 2], "loss": [1.0, 0.5]})
    disp = LearnerErrorDisplay.from_results(frame, name="exp2's learner")
    assert _legend(disp.ax_) == ["exp2's learner"]
    assert (
        LearnerErrorDisplay([1.0, 0.5], name="a").plot(name="b").line_.get_label()
        == "b"
    )


def test_kwargs_reach_the_lines(learner):
    df = _frame()
    default = TrainingCurveDisplay.from_results(df)
    for key, color in (("backprop", "C0"), ("learned", "C3")):
        assert mcolors.same_color(default.lines_[key].get_color(), color)
    disp = TrainingCurveDisplay.from_results(df, color="k", linewidth=3, ls=":")
    for key in ("backprop", "learned"):
        line = disp.lines_[key]
        assert mcolors.same_color(line.get_color(), "k")
        assert line.get_linewidth() == 3 and line.get_linestyle() == ":"
        # the band follows its line's colour
        band = disp.bands_[key].get_facecolor()[0]
        assert mcolors.to_rgb(band) == mcolors.to_rgb("k")
    # an alias replaces the default it stands for
    disp = TrainingCurveDisplay.from_estimator(learner, c="m", lw=2)
    line = disp.lines_["backprop"]
    assert mcolors.same_color(line.get_color(), "m") and line.get_linewidth() == 2
    # label= in the keywords wins over name, as in matplotlib
    disp = TrainingCurveDisplay.from_estimator(learner, name="a", label="b")
    assert _legend(disp.ax_) == ["b"]

    disp = LearnerErrorDisplay.from_estimator(learner, color="r", linestyle="--")
    assert mcolors.same_color(disp.line_.get_color(), "r")
    assert disp.line_.get_linestyle() == "--"
    frame = pd.DataFrame({"experiment": "exp2", "epoch": [1, 2], "loss": [1.0, 0.5]})
    disp = LearnerErrorDisplay.from_results(frame, marker="o")
    assert disp.line_.get_marker() == "o"
    assert mcolors.same_color(disp.line_.get_color(), "C2")


def test_squares_display():
    X_tr, X_te, Y_tr, Y_te = make_squares(40, 30, random_state=0)
    disp = SquaresDisplay.from_data(X_tr, Y_tr, X_te, Y_te)
    assert disp.ax_.shape == (2,)
    assert disp.figure_ is disp.ax_[0].figure is disp.ax_[1].figure
    inside, outside = disp.ax_[0].collections[:2]
    assert len(inside.get_offsets()) == Y_tr[:, 0].sum()
    assert len(outside.get_offsets()) == 40 - Y_tr[:, 0].sum()
    assert len(disp.ax_[1].collections[0].get_offsets()) == Y_te[:, 0].sum()
    # a 1-d target (1 = inside) and the training set alone, on a given Axes
    _, ax = plt.subplots()
    one = SquaresDisplay.from_data(X_tr, Y_tr[:, 0], ax=ax)
    assert one.ax_.shape == (1,) and one.ax_[0] is ax
    assert len(ax.collections[0].get_offsets()) == Y_tr[:, 0].sum()
    with pytest.raises(ValueError, match="2 sets to draw, one per axes; got 1"):
        SquaresDisplay.from_data(X_tr, Y_tr, X_te, Y_te, ax=ax)


def test_squares_display_kwargs_reach_the_points():
    X_tr, _, Y_tr, _ = make_squares(40, 30, random_state=0)
    disp = SquaresDisplay.from_data(X_tr, Y_tr, s=40, alpha=0.5)
    inside, outside = disp.ax_[0].collections[:2]
    for points in (inside, outside):
        assert points.get_sizes()[0] == 40 and points.get_alpha() == 0.5
    assert not mcolors.same_color(inside.get_facecolor(), outside.get_facecolor())
    # c= replaces the default colour instead of clashing with it
    disp = SquaresDisplay.from_data(X_tr, Y_tr, c="k")
    inside = disp.ax_[0].collections[0]
    assert mcolors.to_rgb(inside.get_facecolor()[0]) == mcolors.to_rgb("k")


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
