"""Networks trained by a fitted learner instead of backprop (the paper's steps 2-3)."""

import copy
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._base import _BaseMLP, _BaseMLPClassifier, validation_split
from ._modes import ModeStateMixin, make_mode, sizes_from_names, topology
from .backprop import BackpropMLPClassifier, BackpropMLPRegressor
from .recorder import TrajectoryRecorder
from .rules import (
    BackpropRule,
    BoundedRule,
    FallbackRule,
    LearnedRule,
    teacher_rate,
    unwrap_learner,
)

#: The paper's learning rate for the teacher, experiment 1.
PAPER_RATE = 0.23


def default_learner():
    """The learner used when ``learner=None``: a 32-unit BackpropMLPRegressor.

    The paper's learning network has 2 hidden units; with those its students
    stall on AND (see the README). 32 units fit backprop's changes closely.
    """
    return BackpropMLPRegressor(
        hidden_layer_sizes=(32,),
        learning_rate_init=0.02,
        momentum=0.9,
        batch_size=32,
        max_iter=200,
        random_state=0,
    )


def short_names(cols):
    """At most six of ``cols`` joined for a message: the first five and the last."""
    cols = list(cols)
    return ", ".join(cols[:5]) + (f", ... {cols[-1]}" if len(cols) > 5 else "")


def check_learner_layout(learner, mode):
    """Refuse a learner whose inputs or outputs do not fit ``mode``'s rows.

    In network mode the learner must know its feature names (be fitted on a
    DataFrame, as the library fits its own): a count of columns cannot tell
    one topology's rows from another's.
    """
    learner = unwrap_learner(learner)
    expected = list(mode.feature_names)
    names = getattr(learner, "feature_names_in_", None)
    n_in = getattr(learner, "n_features_in_", None)
    if names is not None:
        ok = list(names) == expected
        got = list(names)
    else:
        ok = n_in is None or n_in == len(expected)
        got = None
    n_out = getattr(learner, "n_outputs_", None)
    if n_out is not None and n_out != mode.n_targets:
        ok = False
    targets = getattr(learner, "target_names_", None)
    if ok and targets is not None and list(targets) != list(mode.target_names):
        raise ValueError(
            f"The learner was fitted to predict {short_names(targets)}, but "
            f"{mode.describe()} needs {short_names(mode.target_names)}: in link "
            "mode, use the target the learner was fitted on (dw: 'change', dw_n: "
            "'scaled', dw_r: 'residual' or 'residual_odd'), or fit a new learner."
        )
    if ok and names is None and not mode.count_checks_layout:
        raise ValueError(
            f"The learner {type(learner).__name__} has no feature names "
            "(feature_names_in_), so its layout cannot be checked against "
            f"{mode.describe()}: network-mode rows of other topologies can have "
            "as many columns (1-4-1 and 1-2-2-1 both have 16), and every column "
            "would be read with another meaning. Fit it on the recording's "
            "DataFrame, learner.fit(frame[rec.feature_names_], "
            "frame[rec.target_names_]) with frame = rec.to_frame(), or use "
            "mode='link' or mode='delta'."
        )
    if ok:
        return

    if got is not None:
        sizes = sizes_from_names(got)
        theirs = (f"topology {topology(sizes)}, " if sizes else "") + (
            f"{len(got)} features ({short_names(got)})"
        )
    else:
        theirs = f"{n_in} features"
    if n_out is not None:
        theirs += f" and {n_out} outputs"
    raise ValueError(
        f"The learner was fitted for rows with {theirs}, but this network needs "
        f"{mode.describe()}: features ({short_names(expected)}). A network-mode "
        "learner trains only the topology and variables it was fitted on; fit a "
        "new learner (pass an unfitted one), or use mode='link' or mode='delta', "
        "whose rules train any topology."
    )


def _last_finite(rec):
    """Each recorded run's last finite epoch loss (NaN if it has none)."""
    curves = rec.loss_curves_
    finite = np.isfinite(curves)
    last = np.where(
        finite.any(axis=1), curves.shape[1] - 1 - finite[:, ::-1].argmax(1), 0
    )
    return curves[np.arange(len(curves)), last]


class LearnedRuleMLPClassifier(ModeStateMixin, _BaseMLPClassifier):
    """A sigmoid MLP classifier whose weights are updated by a fitted learner.

    ``fit(X, y)`` does the paper's three steps when ``learner`` is unfitted:
    record ``n_teacher_runs`` runs of the teacher (backprop on the same data and
    topology) with a :class:`TrajectoryRecorder`, fit a clone of ``learner`` to
    map the recorded states to the recorded changes (``learner_``), then train
    a fresh network (``coefs_``, ``intercepts_``) with ``learner_`` in place of
    backprop. A learner wrapped in :class:`sklearn.frozen.FrozenEstimator` (for
    instance one loaded with joblib) is used as it is: ``fit`` only trains the
    network.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(1,)
        The student's (and the default teacher's) hidden layers.
    learner : regressor, FrozenEstimator or "pretrained", default=None
        Maps the rows of ``mode`` to changes. ``None`` is
        :func:`default_learner`, a 32-unit :class:`BackpropMLPRegressor`.
        Its parameters can be set through this classifier as
        ``learner__<name>`` (``set_params``, grid searches) even while
        ``learner`` is None: ``learner`` then first becomes a fresh
        :func:`default_learner` of this classifier's own.
        ``"pretrained"`` is the rule shipped with the library
        (:func:`sk_metabp.pretrained.load`): nothing is recorded or fitted,
        and the mode, variables and target are the pretrained rule's (link
        mode; leave ``mode``, ``variables`` and ``target`` at their defaults
        or pass the pretrained rule's own). It holds a learner fitted online
        and one fitted at batch size 32; the one nearer ``batch_size`` is
        used, and the guard (``on_divergence="fallback"``) falls back to the
        teacher that learner imitated (for the shipped rule Adam with each
        layer's steps divided by its fan-in).
    mode : {"network", "link", "delta"}, default="network"
        What the learner sees and predicts; see :class:`TrajectoryRecorder`.
    variables : str or sequence of str, default=None
        The sampled variables (the mode's default when None).
    target : {"change", "scaled", "fan_in_scaled", "residual", \
"residual_odd"}, default=None
        What a link-mode learner predicts (None: ``"scaled"`` in link mode,
        the transferring choice, and ``"change"`` in the others): each link's
        change, the change in units of its layer's scale, the change times
        its fan-in, or the change beyond backprop's step at the
        (first) teacher's rate in those units, so that a learner predicting 0
        trains as backprop; ``"residual_odd"`` uses only the part of that
        prediction that is odd in the error, so the rule makes no change where
        the error is 0 (see :class:`~sk_metabp._modes.LinkMode`). Other modes
        take ``"change"``. A frozen learner must be used with the target
        it was fitted on; one that knows its target's name (a
        :class:`BackpropMLPRegressor` fitted here, or on a recording's
        DataFrame) is refused with any other.
    teacher : BackpropMLPClassifier or list of them, default=None
        The training to imitate; ``None`` is backprop on the same topology at
        the paper's rate 0.23, for ``max_iter`` epochs. Its
        ``hidden_layer_sizes`` must match in network mode. Several teachers
        (e.g. backprop at several rates, or with momentum) are each recorded
        ``n_teacher_runs`` times and the learner fits the union of their rows.
    n_teacher_runs : int, default=32
        Teacher runs (seeds) to record. Students start from initial weights no
        teacher had; many short-sampled runs cover those starts better than a
        few densely sampled ones (on experiment 1, 32 runs sampled 1 update in
        40 gave 119 of 120 perfect students over 6 recordings, 8 runs sampled
        1 in 10 gave 47 of 60 over 3).
    record_every : int, default=40
        Keep one teacher update in ``record_every`` (see ``every`` of
        :class:`TrajectoryRecorder`).
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        The hidden units of the student and of the default teacher.
    loss : {"squared_error", "log_loss"}, default="squared_error"
        The error the student and its teacher learn (see
        :class:`BackpropMLPClassifier`); the rule imitates the teacher's
        changes under that loss, so a given teacher must use the same.
    max_iter : int, default=200
        The student's epochs.
    batch_size : int, default=1
        Patterns per update of the student, and of the default teacher. 1 is
        online training (the paper's); network mode takes only 1. In link and
        delta modes a larger batch gives the learner the batch's statistics
        (link mode: the batch means and the batch-mean gradient, see
        :data:`~sk_metabp._modes.LINK_BATCH`; delta mode: one row per hidden
        neuron and pattern), and the default teacher records backprop's
        batch-mean changes at the same batch size.
    shuffle, init_scale, tol, n_iter_no_change, warm_start, random_state
        As in :class:`BackpropMLPClassifier`, for the student.
    early_stopping : bool, default=False
        As in :class:`BackpropMLPClassifier`: hold out ``validation_fraction``
        of the data (stratified), stop the student once its accuracy there
        has not improved by ``tol`` (1e-4 when None) for more than
        ``n_iter_no_change`` epochs, and keep the weights of its best epoch
        (``validation_scores_``, ``best_validation_score_``). The rows are
        held out before the learner is fitted: neither the teacher's
        recordings nor the student see them.
    validation_fraction : float, default=0.1
        The share of the data held out for ``early_stopping``.
    verbose : bool or int, default=False
        Print progress: the recording (see ``verbose`` of
        :class:`TrajectoryRecorder`), the learner's fit (rows, time, final
        ``loss_``; a learner with a ``verbose`` parameter left falsy prints
        its own epochs too, as the default learner does), then the student's
        loss after every epoch.
    max_update : float or None, default=1.0
        Bound on each weight or bias change: a learner that extrapolates wildly
        cannot throw the weights far in one step.
    on_divergence : {"warn", "raise", "fallback"}, default="warn"
        When the loss or a weight becomes non-finite: stop and keep the last
        finite weights with a ``ConvergenceWarning`` naming the epoch, or raise
        ``FloatingPointError``. ``"fallback"`` also guards against a rule that
        makes the loss rise (the paper's students whose error grows, or a rule
        used on a task unlike those it learned from): when the epoch loss
        exceeds ``1 + fallback_tol`` times its lowest so far, or becomes
        non-finite, the student goes back to the weights its best epoch
        started with (the initial weights if that was the first) and is
        trained by the (first) teacher's own rule from there on (backprop at
        its rate and momentum, or Adam; ``fallback_epoch_``). The guard
        compares the epochs of one call to ``fit`` or ``partial_fit``.
    fallback_tol : float, default=0.25
        The relative rise of the epoch loss over its lowest that makes a
        student fall back (``on_divergence="fallback"`` only). Online training
        loss is noisy from epoch to epoch: a rise of a few percent is common
        under backprop itself.
    learner_dtype : {"auto", "float64", "float32"}, default="auto"
        Precision of the learner's rows and forward pass at every update.
        ``"auto"`` is ``"float32"`` with ``learner="pretrained"`` (a tool
        for speed: at batch 32 the float64 pass costs about twice as much)
        and ``"float64"`` otherwise, where the rule's changes are the
        learner's ``predict`` to the last bit. ``"float32"`` asks a learner
        with the predictor protocol (the library's
        :class:`BackpropMLPRegressor`) for its single-precision path, several
        times faster on large networks (a link-mode rule on thousands of
        links); the changes then differ from float64's by about 1e-6 of their
        size (see the README's speed section for the effect on training).
        Other learners get float32 rows through ``predict``.
    imitation : {"teacher", "dagger"}, default="teacher"
        How the learner learns. ``"teacher"`` fits it on the teacher's
        recording (the paper's way). ``"dagger"`` then does on-policy
        imitation: students trained by the learned rule (*rollouts*) visit
        states no teacher visited, where a learner fitted on the teacher's
        states can err badly; the teacher labels every state they visit with
        its own change there (backprop's change can be computed at any
        state), the rows join the earlier ones and the learner is fitted
        again. Rollouts are guarded: their changes are bounded by
        ``max_update`` (1.0 when None) and a rollout whose epoch loss rises
        by ``fallback_tol`` over its best falls back to the teacher's rule from
        its best epoch (see ``on_divergence="fallback"``), so far-off states stay few.
        A frozen or pretrained learner is not refitted: it takes only
        ``"teacher"``.
    imitation_iter : int, default=3
        Rounds of rollouts, labels and refits (``imitation="dagger"``). A
        last round of rollouts measures the final learner
        (``imitation_history_``); its rows are not fitted.
    n_rollouts : int, default=16
        Rollout students per round; each gives as many rows as a teacher
        run (sampled every ``record_every`` updates over ``max_iter`` of the
        teacher's epochs).
    teacher_share : float in [0, 1], default=0.0
        The share of a rollout's updates that apply the teacher's change
        instead of the learned rule's, drawn per update and student: more
        keeps the rollouts nearer the teacher's states.
    imitation_scaling : {"clip", "teacher", "none"}, default="clip"
        Keeps far-off rollout states from stretching the learner's input
        scaling (a learner standardises its inputs on the rows it fits):
        ``"clip"`` clips each feature of the rollout rows to its range on the
        teacher's rows before the refit (the targets stay the teacher's
        labels at the real states); ``"teacher"`` refits the learner from its
        last weights with ``warm_start=True``, which keeps the scaling it
        fitted on the teacher's rows (a learner with ``warm_start``, as
        :class:`BackpropMLPRegressor`); ``"none"`` fits every round afresh.
    n_jobs : int or None, default=None
        Workers for recording the teacher runs (and the rollouts).

    Attributes
    ----------
    learner_ : regressor
        The fitted learner (the unwrapped one, for a frozen learner): save it
        with joblib to reuse it as a learned optimizer.
    recorder_ : TrajectoryRecorder or None
        The teacher's recording (None with a frozen learner).
    layout_ : str
        The rows the learner reads: mode, topology, variables.
    mode_ : mode object
        What the learner reads and predicts (``mode_.feature_names``,
        ``mode_.target_names``, ``mode_.learning_rate``). Saved as the plain
        ``mode_.arguments()`` that build it again on loading.
    imitation_history_ : pandas.DataFrame or None
        With ``imitation="dagger"``, one row per round: ``iteration`` (0 is
        the learner fitted on the teacher's rows), ``rows`` (the rows that
        learner was fitted on), ``teacher_error`` and ``student_error`` (its
        mean squared error on the teacher's rows and on the rows of the
        rollouts it trained, each target in units of its variance on the
        teacher's rows), ``final_loss`` (the rollouts' median last epoch
        loss) and ``fell_back`` (the share of rollouts the guard handed to
        backprop). None with ``imitation="teacher"`` or a frozen or pretrained
        learner.
    fallback_epoch_ : int
        The epoch (counting from 1) at which the student fell back to
        backprop, or -1 (always -1 unless ``on_divergence="fallback"``).
    classes_, coefs_, intercepts_, loss_curve_, loss_, n_iter_, diverged_
        As in :class:`BackpropMLPClassifier`.
    validation_scores_, best_validation_score_ : list of float, float
        With ``early_stopping``: the student's accuracy on the held-out rows
        after every epoch, and the best of them (its kept epoch's).

    Examples
    --------
    >>> from sk_metabp import LearnedRuleMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> X, y = make_boolean("and")
    >>> clf = LearnedRuleMLPClassifier(hidden_layer_sizes=(1,), max_iter=3000,
    ...                                random_state=0).fit(X, y)
    >>> clf.predict(X)
    array([0, 0, 0, 1])
    """

    _parameter_constraints = {
        **_BaseMLP._parameter_constraints,
        "learner": [HasMethods(["fit", "predict"]), StrOptions({"pretrained"}), None],
        "mode": [StrOptions({"network", "link", "delta"})],
        "variables": [str, list, tuple, None],
        "target": [
            StrOptions(
                {"change", "scaled", "fan_in_scaled", "residual", "residual_odd"}
            ),
            None,
        ],
        "teacher": [HasMethods(["fit", "predict"]), list, tuple, None],
        "n_teacher_runs": [Interval(Integral, 1, None, closed="left")],
        "record_every": [Interval(Integral, 1, None, closed="left")],
        "max_update": [Interval(Real, 0, None, closed="neither"), None],
        "on_divergence": [StrOptions({"warn", "raise", "fallback"})],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "loss": [StrOptions({"squared_error", "log_loss"})],
        "fallback_tol": [Interval(Real, 0, None, closed="neither")],
        "learner_dtype": [StrOptions({"auto", "float64", "float32"})],
        "imitation": [StrOptions({"teacher", "dagger"})],
        "imitation_iter": [Interval(Integral, 1, None, closed="left")],
        "n_rollouts": [Interval(Integral, 1, None, closed="left")],
        "teacher_share": [Interval(Real, 0, 1, closed="both")],
        "imitation_scaling": [StrOptions({"clip", "teacher", "none"})],
        "n_jobs": [Integral, None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(1,),
        *,
        learner=None,
        mode="network",
        variables=None,
        target=None,
        teacher=None,
        n_teacher_runs=32,
        record_every=40,
        activation="logistic",
        loss="squared_error",
        max_iter=200,
        batch_size=1,
        shuffle=False,
        init_scale=1.0,
        max_update=1.0,
        on_divergence="warn",
        fallback_tol=0.25,
        learner_dtype="auto",
        imitation="teacher",
        imitation_iter=3,
        n_rollouts=16,
        teacher_share=0.0,
        imitation_scaling="clip",
        tol=None,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=False,
        n_jobs=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learner = learner
        self.mode = mode
        self.variables = variables
        self.target = target
        self.teacher = teacher
        self.n_teacher_runs = n_teacher_runs
        self.record_every = record_every
        self.activation = activation
        self.loss = loss
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.init_scale = init_scale
        self.max_update = max_update
        self.on_divergence = on_divergence
        self.fallback_tol = fallback_tol
        self.learner_dtype = learner_dtype
        self.imitation = imitation
        self.imitation_iter = imitation_iter
        self.n_rollouts = n_rollouts
        self.teacher_share = teacher_share
        self.imitation_scaling = imitation_scaling
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def set_params(self, **params):
        """Set parameters; ``learner__<name>`` also with the default learner.

        scikit-learn sets a nested parameter on the estimator a parameter
        holds; ``learner=None`` holds none. A ``learner__`` parameter with
        ``learner`` None (now or in ``params``) first sets ``learner`` to a
        fresh :func:`default_learner`, a new instance per classifier, so
        ``GridSearchCV(LearnedRuleMLPClassifier(), {"learner__max_iter":
        [...]})`` searches the default learner's settings.

        Parameters
        ----------
        **params : dict
            Estimator parameters, nested ones as ``learner__<name>``.

        Returns
        -------
        self : object

        Examples
        --------
        >>> from sk_metabp import LearnedRuleMLPClassifier
        >>> clf = LearnedRuleMLPClassifier()
        >>> clf = clf.set_params(learner__hidden_layer_sizes=(8,))
        >>> clf.learner.hidden_layer_sizes, clf.learner.learning_rate_init
        ((8,), 0.02)
        """
        nested = any(key.startswith("learner__") for key in params)
        if nested and params.get("learner", self.learner) is None:
            params = {**params, "learner": default_learner()}
        return super().set_params(**params)

    def _teachers(self):
        """Clones of the teacher(s) to record; the default is the paper's backprop."""
        if self.teacher is None:
            return [
                BackpropMLPClassifier(
                    hidden_layer_sizes=self.hidden_layer_sizes,
                    learning_rate_init=PAPER_RATE,
                    activation=self.activation,
                    loss=self.loss,
                    max_iter=self.max_iter,
                    batch_size=self.batch_size,
                    shuffle=self.shuffle,
                    init_scale=self.init_scale,
                )
            ]
        teachers = (
            self.teacher if isinstance(self.teacher, (list, tuple)) else [self.teacher]
        )
        if not teachers:
            raise ValueError(
                "teacher is an empty list: a teacher list needs at least one "
                "teacher. Pass one BackpropMLPClassifier or more, or None for "
                "backprop at the paper's rate."
            )
        for t in teachers:
            # the rule imitates the teacher's deltas, which the loss defines
            theirs = getattr(t, "loss", "squared_error")
            if theirs != self.loss:
                raise ValueError(
                    f"The teacher learns loss={theirs!r} but the student "
                    f"loss={self.loss!r}: a learned rule imitates the teacher's "
                    "changes, so give both the same loss."
                )
        return [clone(t) for t in teachers]

    def fit_learner(self, X, y, *, classes=None):
        """Steps 1 and 2 only: record the teacher and fit the learner.

        A frozen learner is taken as it is. Fits the encoders (``classes_``)
        and sets ``learner_``, ``recorder_``, ``mode_`` and ``layout_``, but
        trains no network: :meth:`update_rule` and :meth:`train_students` then
        train students with the fitted rule.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class, when (X, y) lack some.

        Returns
        -------
        self : object
        """
        if self._uses_pretrained():
            if self.imitation == "dagger":
                raise ValueError(
                    "imitation='dagger' refits the learner on its students' "
                    "states, but learner='pretrained' is used as it is. Use "
                    "imitation='teacher', or pass a learner to fit on-policy."
                )
            self.imitation_history_ = None
            return self._use_pretrained(X, y, classes)
        teachers = self._teachers()
        X_enc, _, sizes = self.training_data(X, y, classes=classes)
        # delta mode's rule (3) steps at the (first) teacher's rate; network
        # mode refuses batch_size > 1
        self.mode_ = make_mode(
            self.mode,
            sizes,
            self.variables,
            teacher_rate(teachers[0]),
            target=self.target,
            batch_size=min(self.batch_size, X_enc.shape[0]),
        )
        self.layout_ = self.mode_.describe()
        if isinstance(self.learner, FrozenEstimator):
            if self.imitation == "dagger":
                raise ValueError(
                    "imitation='dagger' refits the learner on its students' "
                    "states, but a FrozenEstimator is used as it is. Pass the "
                    "learner unfrozen, or use imitation='teacher'."
                )
            learner = unwrap_learner(self.learner)
            check_is_fitted(
                learner,
                msg=(
                    f"The frozen learner {type(learner).__name__} is not fitted: "
                    "a FrozenEstimator is used as it is. Fit it before freezing "
                    "it, or pass it unfrozen (learner=...) for fit to record the "
                    "teacher and fit it."
                ),
            )
            self.recorder_ = None
            self.learner_ = learner
        else:
            for teacher in teachers:
                hidden = getattr(teacher, "hidden_layer_sizes", None)
                if self.mode == "network" and tuple(np.atleast_1d(hidden)) != tuple(
                    self._validate_hidden()
                ):
                    raise ValueError(
                        f"In network mode the teacher's hidden_layer_sizes "
                        f"{hidden} must be the student's {self.hidden_layer_sizes}."
                    )
            self.recorder_ = self._recorder(
                teachers,
                n_runs=self.n_teacher_runs,
                random_state=self.random_state,
                verbose=self.verbose,
            ).fit(X, y, classes=classes)
            rec = self.recorder_
            self.learner_ = self._fit_learner_on(rec.features_, rec.targets_)
            if self.imitation == "dagger":
                self._imitate(teachers, X, y, classes)
        if self.imitation == "teacher" or self.recorder_ is None:
            self.imitation_history_ = None
        check_learner_layout(self.learner_, self.mode_)
        return self

    def _use_pretrained(self, X, y, classes):
        """``fit_learner`` with ``learner="pretrained"``: load, check, no fit."""
        from . import pretrained

        info = pretrained.load_manifest()
        variables = list(info["variables"])
        if self.mode not in ("network", "link"):
            raise ValueError(
                f"learner='pretrained' is a link-mode rule; got mode={self.mode!r}. "
                "Leave mode at its default or pass mode='link'."
            )
        if (
            self.variables is not None
            and (
                [self.variables]
                if isinstance(self.variables, str)
                else list(self.variables)
            )
            != variables
        ):
            raise ValueError(
                f"learner='pretrained' reads the variables {variables}; got "
                f"variables={self.variables!r}. Leave variables=None."
            )
        if self.target not in (None, info["target"]):
            raise ValueError(
                f"learner='pretrained' predicts target={info['target']!r}; got "
                f"target={self.target!r}. Leave target at its default."
            )
        X_enc, _, sizes = self.training_data(X, y, classes=classes)
        # the rate of the backprop it imitated: a guarded student falls back to it
        rate = info["learning_rate"] or pretrained.imitated_rate(info, self.batch_size)
        self.mode_ = make_mode(
            "link",
            sizes,
            variables,
            rate,
            target=info["target"],
            batch_size=min(self.batch_size, X_enc.shape[0]),
        )
        self.layout_ = self.mode_.describe()
        self.recorder_ = None
        self.learner_ = pretrained.load(batch_size=self.batch_size)
        check_learner_layout(self.learner_, self.mode_)
        return self

    def _imitate(self, teachers, X, y, classes):
        """On-policy imitation (DAgger): roll out, label, aggregate, refit.

        ``learner_`` (fitted on the teacher's rows) trains ``n_rollouts``
        guarded students; the teacher labels every state they visit (a
        :class:`TrajectoryRecorder` with ``rollout``); the rows join the
        earlier ones and the learner is fitted again, ``imitation_iter``
        times. A last rollout measures the final learner. Sets
        ``learner_`` and ``imitation_history_``.
        """
        if (
            self.imitation_scaling == "teacher"
            and "warm_start" not in self._fresh_learner().get_params()
        ):
            raise ValueError(
                "imitation_scaling='teacher' refits the learner with "
                "warm_start=True, keeping the scaling it fitted on the teacher's "
                f"rows; {type(self.learner).__name__} has no warm_start. Use "
                "imitation_scaling='clip' or 'none'."
            )
        rec = self.recorder_
        features, targets = [rec.features_], [rec.targets_]
        low, high = rec.features_.min(axis=0), rec.features_.max(axis=0)
        spread = np.maximum(rec.targets_.astype(np.float64).var(axis=0), 1e-300)
        rng = check_random_state(self.random_state)
        history = []
        for it in range(self.imitation_iter + 1):
            rollouts = self._recorder(
                teachers,
                n_runs=self.n_rollouts,
                random_state=rng.randint(np.iinfo(np.int32).max),
                rollout=self._rule(self.learner_, guard="rollout"),
                teacher_share=self.teacher_share,
            ).fit(X, y, classes=classes)
            history.append(
                {
                    "iteration": it,
                    "rows": sum(len(f) for f in features),
                    "teacher_error": self._imitation_error(rec, spread),
                    "student_error": self._imitation_error(rollouts, spread),
                    "final_loss": float(np.median(_last_finite(rollouts))),
                    "fell_back": float((rollouts.fell_back_ >= 0).mean()),
                }
            )
            if self.verbose:
                print(
                    "On-policy imitation, iteration {iteration}: {rows:,} rows, "
                    "error on teacher states {teacher_error:.3g}, on student "
                    "states {student_error:.3g}, rollouts' median final loss "
                    "{final_loss:.3g}".format(**history[-1]),
                    flush=True,
                )
            if it == self.imitation_iter:
                break
            F = rollouts.features_
            if self.imitation_scaling == "clip":
                # far-off states cannot stretch the learner's scaling
                F = np.clip(F, low, high)
            features.append(F)
            targets.append(rollouts.targets_)
            warm = None
            if self.imitation_scaling == "teacher":
                # the scaling of the first fit, on the teacher's rows, stays
                warm = copy.deepcopy(self.learner_).set_params(warm_start=True)
            self.learner_ = self._fit_learner_on(
                np.concatenate(features), np.concatenate(targets), learner=warm
            )
        if self.imitation_scaling == "teacher" and self.imitation_iter:
            self.learner_.set_params(warm_start=False)
        self.imitation_history_ = pd.DataFrame(history)

    def _recorder(self, teachers, **params):
        """A recorder of ``teachers`` in this classifier's mode, variables,
        target and sampling; ``params`` are the recorder's others (runs,
        seed, a rollout rule)."""
        return TrajectoryRecorder(
            teachers if len(teachers) > 1 else teachers[0],
            mode=self.mode,
            variables=self.variables,
            target=self.target,
            every=self.record_every,
            n_jobs=self.n_jobs,
            **params,
        )

    def _fresh_learner(self):
        """An unfitted clone of ``learner``, or of the default learner."""
        return clone(default_learner() if self.learner is None else self.learner)

    def _imitation_error(self, rec, spread):
        """The learner's mean squared error on ``rec``'s rows, each target in
        units of its variance on the teacher's rows."""
        names = self.mode_.feature_names
        with np.errstate(over="ignore", invalid="ignore"):
            pred = self.learner_.predict(pd.DataFrame(rec.features_, columns=names))
        pred = np.asarray(pred, dtype=np.float64).reshape(len(rec.features_), -1)
        return float(np.mean(np.mean((pred - rec.targets_) ** 2, axis=0) / spread))

    def _fit_learner_on(self, features, targets, learner=None):
        """A clone of ``learner`` (or the default) fitted on the rows
        ``features``, ``targets``; ``learner``, when given, is fitted itself."""
        if learner is None:
            learner = self._fresh_learner()
        # the learner trains in float64 on the (float32) rows, as the rule
        # feeds it float64 rows (a float32 X would fit a float32 learner); its
        # targets are standardised as they come
        X = pd.DataFrame(features, columns=self.mode_.feature_names)
        X = X.astype(np.float64)
        Y = pd.DataFrame(targets, columns=self.mode_.target_names)
        if not self.verbose:
            return learner.fit(X, Y)
        own = learner.get_params(deep=False).get("verbose", True)
        if not own:  # it reports its own epochs while it fits, then as it was
            learner.set_params(verbose=self.verbose)
        print(
            f"Fitting the learner {type(learner).__name__} on {len(X):,} rows "
            f"({X.shape[1]} features, {Y.shape[1]} targets)",
            flush=True,
        )
        started = time.perf_counter()
        learner.fit(X, Y)
        if not own:
            learner.set_params(verbose=own)
        loss = getattr(learner, "loss_", None)
        print(
            f"Fitted the learner in {time.perf_counter() - started:.1f} s"
            + ("" if loss is None else f", final loss {loss:.6g}"),
            flush=True,
        )
        return learner

    def update_rule(self):
        """The learned rule ``fit`` trains with: ``learner_`` in the fitted mode.

        Bounded by ``max_update`` and, with ``on_divergence="fallback"``,
        guarded by backprop at the (first) teacher's rate. Needs
        :meth:`fit_learner` (or ``fit``) first.

        Returns
        -------
        rule : sk_metabp.rules.UpdateRule
        """
        check_is_fitted(self, "learner_")
        return self._rule(self.learner_, guard=self.on_divergence == "fallback")

    def _rule(self, learner, guard):
        """``learner`` as a rule, bounded by ``max_update``; with ``guard``,
        falling back to backprop when the loss rises (``fallback_tol``).
        ``guard="rollout"`` (on-policy imitation's students) is bounded by
        1.0 when ``max_update`` is None."""
        rule = LearnedRule(self.mode_, learner, dtype=self._learner_dtype())
        bound = self.max_update
        if bound is None and guard == "rollout":
            bound = 1.0  # a rollout is always bounded
        if bound is not None:
            rule = BoundedRule(rule, bound)
        if guard:
            rule = FallbackRule(rule, self._fallback_rule(), self.fallback_tol)
        return rule

    def _uses_pretrained(self):
        """Whether the learner is the shipped pretrained rule."""
        return isinstance(self.learner, str) and self.learner == "pretrained"

    def _learner_dtype(self):
        if self.learner_dtype != "auto":
            return self.learner_dtype
        return "float32" if self._uses_pretrained() else "float64"

    def _fallback_rule(self):
        """What a guarded student falls back to: the pretrained rule's own
        teacher (backprop at its rate, or Adam), else the (first) teacher's
        update rule (backprop at the paper's rate for ``teacher=None``)."""
        if self._uses_pretrained():
            from . import pretrained

            info = pretrained.load_manifest()
            teacher = pretrained.imitated_classifier(info, self.batch_size)
            if teacher is not None:
                return teacher.update_rule()
            return BackpropRule(self.mode_.learning_rate or PAPER_RATE)
        return self._teachers()[0].update_rule()

    def _trained_with(self, rule, k, first):
        if isinstance(rule, FallbackRule) and rule.fell_back[k] >= 0:
            self.fallback_epoch_ = int(rule.fell_back[k])
        elif first or not hasattr(self, "fallback_epoch_"):
            self.fallback_epoch_ = -1

    def fit(self, X, y):
        """Fit the learner (unless frozen), then train a fresh network with it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        self._validate_params()
        held_out = None
        if self.early_stopping:
            # split before the learner is fitted, so that no recording sees
            # the rows the student is scored on
            check_consistent_length(X, y)
            labels = np.asarray(y)
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels[:, 0]  # a column of labels, as fit reads it
            held_out = validation_split(
                len(labels),
                self.validation_fraction,
                check_random_state(self.random_state),
                stratify=labels if labels.ndim == 1 else None,  # not multilabel
            )
            self.fit_learner(
                _safe_indexing(X, held_out[0]), _safe_indexing(y, held_out[0])
            )
        else:
            self.fit_learner(X, y)
        if self.verbose:
            print(f"Training the network with the learned rule, {self.layout_}")
        return self._fit(X, y, incremental=False, held_out=held_out)

    def partial_fit(self, X, y, classes=None):
        """One more epoch with the learned rule (fits the learner on first call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class, required on the first call.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "learner_"):
            self._validate_params()
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            self.fit_learner(X, y, classes=classes)
        return self._fit(X, y, incremental=True, classes=classes)

    def _diverged(self, epoch):
        if self.on_divergence == "raise":
            raise FloatingPointError(
                f"The learned rule diverged at epoch {epoch}: the loss or a weight "
                "became non-finite. Bound the updates (max_update), refit the "
                "learner with more capacity or data, or use on_divergence='warn' "
                "to keep the last finite weights."
            )
        super()._diverged(epoch)
