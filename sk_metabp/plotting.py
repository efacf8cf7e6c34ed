"""Display objects for training curves and data, in scikit-learn's style.

Each display holds the numbers to draw; a ``from_*`` class method computes them
and calls :meth:`plot`, which draws on a given axes (or a new figure) and keeps
the axes as ``ax_``, the figure as ``figure_`` and the artists it drew. As in
scikit-learn's displays, ``name=`` labels the lines and any other keyword of
``plot`` and ``from_*`` goes to matplotlib (``color=``, ``linewidth=``, ...);
``from_estimator`` takes a fitted estimator, the last step of a
:class:`~sklearn.pipeline.Pipeline` or the ``best_estimator_`` of a fitted
search, and raises :class:`~sklearn.exceptions.NotFittedError` for an unfitted
one. Matplotlib is imported only inside :meth:`plot`, so the rest of the library
runs without it; install it with ``pip install "sk-metabp[plot]"``.
"""

import numpy as np
import pandas as pd
from sklearn.base import is_regressor
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

_MISSING = (
    "{} needs matplotlib, which is not installed. Install it with "
    'pip install "sk-metabp[plot]" (or pip install matplotlib).'
)

#: Colours of the methods, the same in every figure.
_COLORS = {"backprop": "C0", "learned": "C3"}


def _pyplot(what):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_MISSING.format(what)) from exc
    return plt


def _figure(what, **kwargs):
    """A figure not managed by pyplot (no backend state): for writing files."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_MISSING.format(what)) from exc
    return Figure(**kwargs)


def _label(estimator):
    from .learned import LearnedRuleMLPClassifier

    if isinstance(estimator, LearnedRuleMLPClassifier):
        return "learned"
    return "backprop"


def _fitted_model(estimator):
    """The fitted model inside ``estimator``; NotFittedError if it is unfitted.

    Unwraps, however deep they nest, a Pipeline (to its last step), a fitted
    search (to its ``best_estimator_``) and a FrozenEstimator.
    """
    check_is_fitted(estimator)
    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator[-1]
        elif isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif hasattr(estimator, "cv_results_"):  # a fitted search
            if not hasattr(estimator, "best_estimator_"):
                raise ValueError(
                    f"This {type(estimator).__name__} has no best_estimator_ (it "
                    "was fitted with refit=False): fit it with refit=True, or "
                    "pass a fitted estimator."
                )
            estimator = estimator.best_estimator_
        else:
            return estimator


def _line_kwargs(defaults, kwargs):
    """``defaults`` overridden by the caller's keywords for Line2D.

    Aliases are made canonical first, so ``lw=`` or ``c=`` replace a default
    ``linewidth`` or ``color`` instead of clashing with it.
    """
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.lines import Line2D

    return {**defaults, **normalize_kwargs(kwargs, Line2D)}


def _labels(keys, name):
    """The legend labels of the curves ``keys`` (``name`` of TrainingCurveDisplay)."""
    keys = list(keys)
    if name is None:
        return keys
    if isinstance(name, str):
        # one name for several curves would make their labels alike
        return [name] if len(keys) == 1 else [f"{name}: {k}" for k in keys]
    names = list(name)
    if len(names) != len(keys):
        raise ValueError(
            f"name has {len(names)} labels for {len(keys)} curves ({keys})."
        )
    return names


def _results_frame(results):
    """A tidy results frame from a frame or a :class:`Reproduction`."""
    return getattr(results, "results", results)


def _pick_experiment(frame, experiment):
    names = list(pd.unique(frame["experiment"]))
    if experiment is None:
        if len(names) != 1:
            raise ValueError(
                f"The results hold experiments {names}; pass experiment= to choose one."
            )
        experiment = names[0]
    if experiment not in names:
        raise ValueError(f"No experiment {experiment!r} in the results; have {names}.")
    return experiment, frame[frame["experiment"] == experiment]


class TrainingCurveDisplay:
    """Training error over epochs: per method, the median and a quartile band.

    Build it with :meth:`from_results` (the runs of
    :func:`~sk_metabp.experiments.run_experiments`) or :meth:`from_estimator`
    (fitted networks); the constructor takes precomputed curves.

    Parameters
    ----------
    curves : dict
        Key -> ``(epochs, median, lower, upper)``, four 1-d arrays; ``lower``
        and ``upper`` may be None (one run: no band). The keys ``"backprop"``
        and ``"learned"`` have the same colour in every figure.
    name : str or list of str, default=None
        The legend labels: one per curve, in the order of ``curves``; a single
        str labels a single curve and prefixes the keys of several
        (``"name: key"``). The keys when None.
    metric : str, default="J"
        What the curves measure, for the axis label.
    title : str, default=None

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict
        Key -> the median's Line2D.
    bands_ : dict
        Key -> the quartile band's PolyCollection (curves with a band only).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sk_metabp import BackpropMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.plotting import TrainingCurveDisplay
    >>> X, y = make_boolean("and")
    >>> nets = [BackpropMLPClassifier((1,), max_iter=50, random_state=s).fit(X, y)
    ...         for s in range(3)]
    >>> disp = TrainingCurveDisplay.from_estimator(nets)
    >>> sorted(disp.lines_), sorted(disp.bands_)
    (['backprop'], ['backprop'])

    A name for the legend and matplotlib's keywords for the line:

    >>> disp = TrainingCurveDisplay.from_estimator(
    ...     nets, name="AND, 3 seeds", linestyle="--")
    >>> disp.lines_["backprop"].get_label(), disp.lines_["backprop"].get_linestyle()
    ('AND, 3 seeds', '--')
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """

    def __init__(self, curves, *, name=None, metric="J", title=None):
        self.curves = curves
        self.name = name
        self.metric = metric
        self.title = title

    def plot(self, ax=None, *, name=None, log_scale=None, band=True, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        name : str or list of str, default=None
            The legend labels, as in the constructor; the constructor's when
            None.
        log_scale : bool, default=None
            Logarithmic y axis; by default for the error J, not for accuracies.
        band : bool, default=True
            Shade between the quartiles where there are several runs.
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for every median line (a band
            takes its line's colour).

        Returns
        -------
        self : TrainingCurveDisplay
        """
        if ax is None:
            _, ax = _pyplot(type(self).__name__).subplots(figsize=(6, 4))
        if log_scale is None:
            log_scale = self.metric == "J"
        labels = _labels(self.curves, self.name if name is None else name)
        self.lines_, self.bands_ = {}, {}
        for i, (key, (epochs, med, lower, upper)) in enumerate(self.curves.items()):
            style = {"color": _COLORS.get(key, f"C{i + 4}"), "label": labels[i]}
            (line,) = ax.plot(epochs, med, **_line_kwargs(style, kwargs))
            self.lines_[key] = line
            if band and lower is not None and upper is not None:
                self.bands_[key] = ax.fill_between(
                    epochs, lower, upper, color=line.get_color(), alpha=0.25, lw=0
                )
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(
            "J, mean pattern error (eq. 2)" if self.metric == "J" else self.metric
        )
        if self.title:
            ax.set_title(self.title)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_results(
        cls,
        results,
        experiment=None,
        *,
        metric="J",
        name=None,
        ax=None,
        log_scale=None,
        title=None,
        **kwargs,
    ):
        """Median and quartiles over seeds of each method in one experiment.

        Parameters
        ----------
        results : pandas.DataFrame or Reproduction
            The tidy results of :func:`~sk_metabp.experiments.run_experiments`
            (or ``results.csv`` read back with pandas).
        experiment : str, default=None
            Which experiment; may be omitted when the results hold only one.
        metric : {"J", "train_accuracy", "test_accuracy"}, default="J"
        name : str or list of str, default=None
            Legend labels, one per method in alphabetical order, or a prefix
            of the methods' names; the methods' names when None.
        ax : matplotlib Axes, default=None
        log_scale : bool, default=None
        title : str, default=None
            Defaults to the experiment's name and the number of seeds.
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for every median line.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        frame = _results_frame(results)
        experiment, frame = _pick_experiment(frame, experiment)
        if metric not in frame.columns:
            raise ValueError(f"No column {metric!r} in the results.")
        curves = {}
        for method, runs in frame.groupby("method", sort=True):
            q = runs.groupby("epoch")[metric].quantile([0.25, 0.5, 0.75]).unstack()
            curves[method] = (
                q.index.to_numpy(),
                q[0.5].to_numpy(),
                q[0.25].to_numpy(),
                q[0.75].to_numpy(),
            )
        if title is None:
            n = frame["seed"].nunique()
            title = f"{experiment}: median and quartiles over {n} seeds"
        disp = cls(curves, name=name, metric=metric, title=title)
        return disp.plot(ax=ax, log_scale=log_scale, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None, log_scale=None, **kwargs):
        """The ``loss_curve_`` of fitted networks: one line, or a median and band.

        Parameters
        ----------
        estimator : fitted estimator or list of them
            Networks with ``loss_curve_`` (e.g. the same model fitted from
            several seeds: the display shows their median and quartiles), or
            pipelines or fitted searches ending in one.
        name : str, default=None
            The legend label. The curve's key (and colour) is ``"learned"``
            for a :class:`~sk_metabp.LearnedRuleMLPClassifier`, else
            ``"backprop"``; the label is the key when None.
        ax : matplotlib Axes, default=None
        log_scale : bool, default=None
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for the median line.

        Returns
        -------
        display : TrainingCurveDisplay

        Raises
        ------
        NotFittedError
            For an unfitted estimator.
        """
        estimators = estimator if isinstance(estimator, (list, tuple)) else [estimator]
        if not estimators:
            raise ValueError("No estimator given.")
        estimators = [_fitted_model(e) for e in estimators]
        missing = [e for e in estimators if not hasattr(e, "loss_curve_")]
        if missing:
            raise ValueError(
                f"{type(missing[0]).__name__} records no loss_curve_: pass networks "
                "that do, such as BackpropMLPClassifier or LearnedRuleMLPClassifier."
            )
        key = _label(estimators[0])
        n = min(len(e.loss_curve_) for e in estimators)
        curves = np.array(
            [np.asarray(e.loss_curve_[:n], dtype=float) for e in estimators]
        )
        epochs = np.arange(1, n + 1)
        if len(estimators) == 1:
            entry = (epochs, curves[0], None, None)
        else:
            lower, med, upper = np.nanpercentile(curves, [25, 50, 75], axis=0)
            entry = (epochs, med, lower, upper)
        return cls({key: entry}, name=name).plot(ax=ax, log_scale=log_scale, **kwargs)


class LearnerErrorDisplay:
    """The learner's training error per epoch (the paper's Figs 4, 6, 8, 10).

    Parameters
    ----------
    loss_curve : array-like
        The learner's loss per epoch (on standardised targets for the
        library's :class:`~sk_metabp.BackpropMLPRegressor`).
    name : str, default="learner"
        The legend label.
    title : str, default=None

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
    line_ : matplotlib Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sk_metabp import LearnedRuleMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> from sk_metabp.plotting import LearnerErrorDisplay
    >>> X, y = make_boolean("and")
    >>> clf = LearnedRuleMLPClassifier((1,), max_iter=100, n_teacher_runs=2,
    ...                                random_state=0).fit(X, y)
    >>> disp = LearnerErrorDisplay.from_estimator(clf, name="AND's learner")
    >>> len(disp.loss_curve) == len(clf.learner_.loss_curve_)
    True
    >>> disp.line_.get_label()
    "AND's learner"
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """

    def __init__(self, loss_curve, *, name="learner", title=None):
        self.loss_curve = np.asarray(loss_curve, dtype=float)
        self.name = name
        self.title = title

    def plot(self, ax=None, *, name=None, log_scale=True, **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        name : str, default=None
            The legend label; the constructor's when None.
        log_scale : bool, default=True
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for the line.

        Returns
        -------
        self : LearnerErrorDisplay
        """
        if ax is None:
            _, ax = _pyplot(type(self).__name__).subplots(figsize=(6, 4))
        epochs = np.arange(1, len(self.loss_curve) + 1)
        style = {"color": "C2", "label": self.name if name is None else name}
        (self.line_,) = ax.plot(epochs, self.loss_curve, **_line_kwargs(style, kwargs))
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("learner epoch")
        ax.set_ylabel("learner training loss (standardised targets)")
        if self.title:
            ax.set_title(self.title)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, name=None, ax=None, log_scale=True, title=None, **kwargs
    ):
        """The learner curve of a fitted learned-rule classifier, or of a learner.

        Parameters
        ----------
        estimator : LearnedRuleMLPClassifier or regressor
            A fitted :class:`~sk_metabp.LearnedRuleMLPClassifier` (its
            ``learner_`` is shown), or a fitted learner: a regressor with
            ``loss_curve_``, such as :class:`~sk_metabp.BackpropMLPRegressor`,
            maybe frozen. Either may be in a pipeline or a fitted search.
        name : str, default=None
            The legend label; ``"learner"`` when None.
        ax : matplotlib Axes, default=None
        log_scale : bool, default=True
        title : str, default=None
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for the line.

        Returns
        -------
        display : LearnerErrorDisplay

        Raises
        ------
        NotFittedError
            For an unfitted estimator.
        ValueError
            For a network that has no learner (a classifier with no
            ``learner_``, such as :class:`~sk_metabp.BackpropMLPClassifier`),
            or a learner that records no ``loss_curve_``.
        """
        model = _fitted_model(estimator)
        if hasattr(model, "learner_"):
            learner = _fitted_model(model.learner_)
        elif is_regressor(model):
            learner = model
        else:
            raise ValueError(
                f"{type(model).__name__} has no learner_: LearnerErrorDisplay "
                "shows how a learner fitted. Pass a fitted LearnedRuleMLPClassifier "
                "or a fitted learner (a regressor such as BackpropMLPRegressor); "
                "for a network's own loss use TrainingCurveDisplay.from_estimator."
            )
        if not hasattr(learner, "loss_curve_"):
            raise ValueError(
                f"{type(learner).__name__} records no loss_curve_: use a learner "
                "that does (BackpropMLPRegressor)."
            )
        disp = cls(
            learner.loss_curve_,
            name="learner" if name is None else name,
            title=title,
        )
        return disp.plot(ax=ax, log_scale=log_scale, **kwargs)

    @classmethod
    def from_results(
        cls,
        reproduction,
        experiment=None,
        *,
        name=None,
        ax=None,
        log_scale=True,
        **kwargs,
    ):
        """The learner curve of one experiment of a reproduction.

        Parameters
        ----------
        reproduction : Reproduction or pandas.DataFrame
            A :class:`~sk_metabp.experiments.Reproduction`, or its
            ``learner_curves`` frame (``experiment, fit, epoch, loss``) or the
            rows of one fit of it; a frame of several fits is refused.
        experiment : str, default=None
            May be omitted when there is only one.
        name : str, default=None
            The legend label; ``"learner"`` when None.
        ax : matplotlib Axes, default=None
        log_scale : bool, default=True
        **kwargs : dict
            Keywords of matplotlib's ``plot`` for the line.

        Returns
        -------
        display : LearnerErrorDisplay
        """
        frame = getattr(reproduction, "learner_curves", reproduction)
        experiment, frame = _pick_experiment(frame, experiment)
        if "fit" in frame.columns and frame["fit"].nunique() > 1:
            raise ValueError(
                f"The learner curves of {experiment} hold {frame['fit'].nunique()} "
                "fits; pass the rows of one, e.g. frame[frame['fit'] == 0]."
            )
        curve = frame.sort_values("epoch")["loss"].to_numpy()
        title = f"{experiment}: the learner's training error"
        disp = cls(curve, name="learner" if name is None else name, title=title)
        return disp.plot(ax=ax, log_scale=log_scale, **kwargs)


class SquaresDisplay:
    """The inner-square task's points, training and test (the paper's Fig. 12).

    Parameters
    ----------
    X_train : ndarray of shape (n, 2)
    y_train : ndarray of shape (n,) or (n, 2)
        1 inside the inner square, or the two columns ``innersquare`` and
        ``outersquare`` of :func:`~sk_metabp.datasets.make_squares`.
    X_test, y_test : ndarray, default=None
    inner : float, default=sqrt(0.5)
        Side of the centred inner square, drawn as an outline.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One per set: training, then test.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sk_metabp.datasets import make_squares
    >>> from sk_metabp.plotting import SquaresDisplay
    >>> X_tr, X_te, Y_tr, Y_te = make_squares(50, 50, random_state=0)
    >>> disp = SquaresDisplay.from_data(X_tr, Y_tr, X_te, Y_te)
    >>> disp.ax_.shape
    (2,)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """

    def __init__(self, X_train, y_train, X_test=None, y_test=None, *, inner=0.5**0.5):
        self.X_train = X_train
        self.y_train = y_train
        self.X_test = X_test
        self.y_test = y_test
        self.inner = inner

    @staticmethod
    def _inside(y):
        y = np.asarray(y)
        return (y[:, 0] if y.ndim == 2 else y).astype(bool)

    def plot(self, ax=None, **kwargs):
        """Draw one panel per set.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of them, default=None
            One per set (training, then test); a new figure when None.
        **kwargs : dict
            Keywords of matplotlib's ``scatter`` for both classes' points
            (e.g. ``s=``, ``alpha=``).

        Returns
        -------
        self : SquaresDisplay
        """
        sets = [("training set", self.X_train, self.y_train)]
        if self.X_test is not None:
            sets.append(("test set", self.X_test, self.y_test))
        if ax is None:
            _, ax = _pyplot(type(self).__name__).subplots(
                1, len(sets), figsize=(4.5 * len(sets), 4.5), squeeze=False
            )
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) != len(sets):
            raise ValueError(
                f"{len(sets)} sets to draw, one per axes; got {len(axes)} axes."
            )
        from matplotlib.patches import Rectangle

        classes = [("innersquare", "o", "C1"), ("outersquare", "x", "C0")]
        lo = 0.5 - self.inner / 2
        for ax, (name, X, y) in zip(axes, sets):
            X = np.asarray(X)
            inside = self._inside(y)
            for points, (label, marker, color) in zip((X[inside], X[~inside]), classes):
                style = {"s": 12, "marker": marker, "label": label}
                if "c" not in kwargs:  # scatter refuses both c= and color=
                    style["color"] = color
                ax.scatter(*points.T, **{**style, **kwargs})
            ax.add_patch(
                Rectangle((lo, lo), self.inner, self.inner, fill=False, color="k")
            )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_title(f"{name} ({len(X)} points)")
        axes[0].legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small"
        )
        self.ax_ = axes
        self.figure_ = axes[0].figure
        return self

    @classmethod
    def from_data(
        cls,
        X_train,
        y_train,
        X_test=None,
        y_test=None,
        *,
        inner=0.5**0.5,
        ax=None,
        **kwargs,
    ):
        """Draw the given points.

        Parameters
        ----------
        X_train, y_train, X_test, y_test, inner
            As in the constructor.
        ax : matplotlib Axes or array-like of them, default=None
            One per set.
        **kwargs : dict
            Keywords of matplotlib's ``scatter`` for the points.

        Returns
        -------
        display : SquaresDisplay
        """
        disp = cls(X_train, y_train, X_test, y_test, inner=inner)
        return disp.plot(ax=ax, **kwargs)


def _fit_medians(disp, rows, metric):
    """Add each fit's median curve, thin, in its method's colour, to ``disp``."""
    for method, line in disp.lines_.items():
        runs = rows[rows["method"] == method]
        for i, (_, fit) in enumerate(runs.groupby("fit", sort=True)):
            med = fit.groupby("epoch")[metric].median()
            disp.ax_.plot(
                med.index,
                med.to_numpy(),
                color=line.get_color(),
                linewidth=0.7,
                alpha=0.8,
                label=f"{method}: median of each fit" if i == 0 else None,
            )
    disp.ax_.legend(fontsize="small")


def save_figures(reproduction, directory, *, dpi=100):
    """Write a reproduction's figures as PNG files.

    Per experiment: ``learner_error_<name>.png`` (the learner's training
    error, the paper's Figs 4, 6, 8, 10) and ``training_curve_<name>.png`` (J
    over epochs, backprop against the learned rule, median and quartiles over
    the seeds of all fits, and each fit's median: Figs 5, 7, 9, 11); the
    learner error figure has a curve per fit. With a test set also
    ``test_accuracy_<name>.png``; with the square task ``squares_data.png``
    (Fig. 12). Figures are made without pyplot, so no window opens and no
    backend is changed.

    Parameters
    ----------
    reproduction : Reproduction
        What :func:`~sk_metabp.experiments.run_experiments` returned.
    directory : str or path
        An existing folder.
    dpi : int, default=100

    Returns
    -------
    paths : list of pathlib.Path
        The files written.

    Raises
    ------
    ImportError
        Without matplotlib, with the command that installs it.
    """
    from pathlib import Path

    _figure("save_figures")  # fail before any work without matplotlib
    directory = Path(directory)
    paths = []

    def save(fig, name):
        path = directory / name
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        paths.append(path)

    results = reproduction.results
    curves = reproduction.learner_curves
    for e in reproduction.experiments:
        fig = _figure("save_figures", figsize=(6, 4))
        ax = fig.subplots()
        mine = curves[curves["experiment"] == e.name]
        for i, (fit, curve) in enumerate(mine.groupby("fit", sort=True)):
            LearnerErrorDisplay.from_results(
                curve, e.name, name=f"fit {fit}", ax=ax, color=f"C{2 + i}"
            )
        ax.set_title(f"{e.name} {e.title}: the learner's training error, each fit")
        save(fig, f"learner_error_{e.name}.png")

        rows = results[results["experiment"] == e.name]
        n = rows["seed"].nunique()
        n_fits = rows["fit"].nunique()
        for metric, what in (("J", "J"), ("test_accuracy", "test accuracy")):
            if not rows[metric].notna().any():
                continue
            fig = _figure("save_figures", figsize=(6, 4))
            disp = TrainingCurveDisplay.from_results(
                rows, e.name, metric=metric, ax=fig.subplots()
            )
            _fit_medians(disp, rows, metric)
            disp.ax_.set_title(
                f"{e.name} {e.title}: {what} over {n_fits} fits x {n // n_fits} "
                "seeds\n(median and quartiles of all; thin: each fit's median)"
            )
            name = "training_curve" if metric == "J" else "test_accuracy"
            save(fig, f"{name}_{e.name}.png")
        if e.task == "squares":
            X_tr, y_tr, X_te, y_te = e.load_data()
            fig = _figure("save_figures", figsize=(9, 4.5))
            SquaresDisplay.from_data(X_tr, y_tr, X_te, y_te, ax=fig.subplots(1, 2))
            fig.suptitle(f"{e.name}: is a point in the inner square?")
            save(fig, "squares_data.png")
    return paths
