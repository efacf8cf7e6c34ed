"""What every network estimator shares: fit, the forward pass, training students.

:class:`_BaseMLP` holds the parameters, the validation of data, the one call
into the training loop and the public protocol for training many networks of
one estimator's shape in lockstep (:meth:`_BaseMLP.training_data`,
:meth:`_BaseMLP.update_rule`, :meth:`_BaseMLP.train_students`, and the
:class:`Students` they return). :class:`_BaseMLPClassifier` adds what both
classifiers share, the backprop one and the learned one, which are siblings
over it and differ only in their parameters and their update rule.
"""

import copy
import math
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._mlp import (
    _forward,
    _layer_functions,
    forward,
    init_params,
    layer_sizes,
    train,
    warn_diverged,
)
from .rules import AdamRule, BackpropRule


class TrainingData(NamedTuple):
    """Data as the training loop sees it: see :meth:`_BaseMLP.training_data`."""

    #: inputs, shape (n_samples, n_features), scaled as the estimator scales them
    X: np.ndarray
    #: expected outputs ``ev``, shape (n_samples, n_outputs)
    Y: np.ndarray
    #: every layer's size, inputs first
    sizes: list


class Students:
    """K networks of one estimator's shape, trained in lockstep.

    Returned by :meth:`~sk_metabp.BackpropMLPClassifier.train_students`.

    Attributes
    ----------
    coefs, intercepts : list of ndarray
        The trained parameters, stacked: shapes ``(K, n_{l-1}, n_l)`` and
        ``(K, n_l)``.
    loss_curves : ndarray of shape (K, n_epochs_run)
        Each network's epoch loss; NaN after it stopped.
    n_iter : ndarray of shape (K,)
        Epochs each network completed.
    diverged : ndarray of shape (K,)
        The epoch (from 1) at which a network diverged, or -1.
    converged : ndarray of bool, shape (K,)
        Whether ``tol`` stopped the network early.
    rule : UpdateRule
        The rule they were trained with (after training: e.g. a
        :class:`~sk_metabp.rules.FallbackRule`'s ``fell_back``).
    seeds : ndarray of shape (K,)
        Network k was initialised (and shuffled) from ``seeds[k]``.
    """

    def __init__(self, estimator, coefs, intercepts, result, rule, seeds):
        self._estimator = estimator
        self.coefs, self.intercepts = coefs, intercepts
        self.loss_curves, self.n_iter, self.diverged, self.converged = result
        self.rule = rule
        self.seeds = np.asarray(seeds)

    def __len__(self):
        return len(self.seeds)

    def estimator(self, k):
        """Network k as a fitted estimator of the kind that trained it.

        Its encoders (classes, scaling) are those
        :meth:`~sk_metabp.BackpropMLPClassifier.training_data` fitted; it predicts,
        scores and pickles like an estimator fitted with ``fit``.
        """
        est = copy.copy(self._estimator)
        n_iter = int(self.n_iter[k])
        est._adopt(
            [c[k].copy() for c in self.coefs],
            [b[k].copy() for b in self.intercepts],
            self.loss_curves[k, :n_iter].tolist(),
        )
        est.diverged_ = bool(self.diverged[k] >= 0)
        est._trained_with(self.rule, k, first=True)
        return est


def _best(curve):
    """The lowest finite entry of a loss curve, inf if there is none."""
    return float(min((v for v in curve if math.isfinite(v)), default=np.inf))


class _BaseMLP(BaseEstimator):
    """Parameters, fit, forward pass and the student protocol of every network.

    Subclasses implement ``_output_activation``, ``_encode_targets`` (y to
    expected outputs ``ev``), ``_scale_inputs`` and :meth:`update_rule`.
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: The precisions the network trains in: float32 X is kept where listed
    #: (as scikit-learn's MLP keeps it), other X is converted to the first.
    _fit_dtypes = (np.float64,)

    def _hidden_activation(self):
        return getattr(self, "activation", "logistic")

    def _loss(self):
        return getattr(self, "loss", "squared_error")

    def _validate_hidden(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.size and not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h > 0 for h in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive integers, such as (1,) "
                f"for the paper's 2-1-1 network or () for none; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(h) for h in sizes)

    # -- the student protocol ---------------------------------------------------

    def training_data(self, X, y, *, reset=True, classes=None):
        """Validate (X, y) and encode them as the training loop sees them.

        The estimator's parameters are validated first. With ``reset`` the
        estimator's encoders are fitted on (X, y), as ``fit`` fits them
        (``classes_``, the regressor's standardisation, ``n_features_in_``);
        without, the fitted ones encode new data (a test set).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        reset : bool, default=True
        classes : array-like, default=None
            Every class, for a classifier whose first data lack some.

        Returns
        -------
        data : TrainingData
            ``(X, Y, sizes)``: the scaled inputs, the expected outputs and the
            sizes of every layer of this estimator's network on them.
        """
        return self._encode(X, y, reset=reset, classes=classes)

    def _encode(self, X, y, *, reset, classes=None, min_samples=2, continuing=None):
        """:meth:`training_data`, with the options ``fit`` and ``partial_fit``
        need: ``min_samples`` (one pattern is a valid partial_fit chunk) and
        ``continuing`` (``"warm_start"`` or ``"partial_fit"``: the targets must
        agree with the classes already fitted)."""
        self._validate_params()
        X, y = self._check_data(
            X,
            y,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=self._fit_dtype(reset),
            multi_output=True,
            ensure_min_samples=min_samples,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        if sparse.issparse(X):
            # the loop trains on dense batches of patterns
            X = X.toarray()
        Y = self._encode_targets(y, first=reset, classes=classes, continuing=continuing)
        Y = Y.astype(X.dtype, copy=False)
        Xs = self._scale_inputs(X, first=reset)
        sizes = layer_sizes(X.shape[1], self._validate_hidden(), Y.shape[1])
        return TrainingData(Xs, Y, sizes)

    def _fit_dtype(self, reset):
        """The dtypes ``validate_data`` may keep for training data: the fitted
        network's precision when continuing it, else :attr:`_fit_dtypes`."""
        if not reset and hasattr(self, "coefs_"):
            return self.coefs_[0].dtype
        return list(self._fit_dtypes)

    def _check_data(self, *args, **kwargs):
        """scikit-learn's ``validate_data``, saying what to do with text in X."""
        try:
            return validate_data(self, *args, **kwargs)
        except ValueError as err:
            if "could not convert string to float" not in str(err):
                raise
            raise ValueError(
                f"X must be numeric: {err}. Encode text or categorical columns "
                "as numbers first, e.g. with sklearn.preprocessing.OneHotEncoder "
                "in a Pipeline."
            ) from err

    def update_rule(self):
        """The :class:`~sk_metabp.rules.UpdateRule` that ``fit`` trains with."""
        raise NotImplementedError

    def train_students(
        self,
        data,
        seeds,
        *,
        rule=None,
        callback=None,
        max_iter=None,
        sample_weight=None,
    ):
        """Train K fresh networks of this estimator's shape in lockstep.

        Network k starts from the weights ``fit`` would draw with
        ``random_state=seeds[k]``; with the default rule it is the network
        that ``fit`` trains with that seed. The K networks pay numpy's
        per-call overhead once.

        Parameters
        ----------
        data : TrainingData
            From :meth:`training_data` (called first: it fits the encoders).
        seeds : sequence of int
            One seed per network.
        rule : UpdateRule, default=None
            Any update rule (see :mod:`sk_metabp.rules`); ``None`` is
            :meth:`update_rule`. It is started afresh.
        callback : callable, default=None
            ``callback(step, dcoefs, dintercepts)`` at every update, after the
            rule and before the change is applied (see
            :class:`~sk_metabp.rules.Step`); the recorder samples here.
        max_iter : int, default=None
            Epochs; ``None`` is the estimator's ``max_iter``.
        sample_weight : array-like of shape (n_samples,), default=None
            Each pattern's weight, as in ``fit``.

        Returns
        -------
        students : Students
            The trained parameters and loss curves; ``students.estimator(k)``
            is network k as a fitted estimator.

        Examples
        --------
        >>> from sk_metabp import BackpropMLPClassifier
        >>> from sk_metabp.datasets import make_boolean
        >>> X, y = make_boolean("and")
        >>> clf = BackpropMLPClassifier((1,), max_iter=3000)
        >>> students = clf.train_students(clf.training_data(X, y), seeds=[0, 1, 2])
        >>> students.loss_curves.shape
        (3, 3000)
        >>> students.estimator(0).predict(X)
        array([0, 0, 0, 1])
        """
        seeds = np.asarray(seeds).ravel()
        if seeds.size == 0:
            raise ValueError("seeds must hold at least one seed, one per network.")
        X, Y, sizes = data
        rngs = [np.random.RandomState(int(s)) for s in seeds]
        coefs, intercepts = init_params(
            sizes,
            rngs,
            init_scale=self.init_scale,
            activation=self._hidden_activation(),
            dtype=X.dtype,
        )
        rule = self.update_rule() if rule is None else rule
        result = train(
            coefs,
            intercepts,
            X,
            Y,
            rule,
            max_iter=self.max_iter if max_iter is None else max_iter,
            random_states=rngs,
            callback=callback,
            sample_weight=(
                None
                if sample_weight is None
                else _check_sample_weight(sample_weight, X)
            ),
            **self._loop_options(),
        )
        # a snapshot: refitting this estimator later leaves the students' own
        return Students(copy.copy(self), coefs, intercepts, result, rule, seeds)

    # -- fit ----------------------------------------------------------------

    def _adopt(self, coefs, intercepts, loss_curve):
        """Take the parameters of one trained network as this estimator's."""
        self.coefs_ = coefs
        self.intercepts_ = intercepts
        self.n_layers_ = len(coefs) + 1
        self.n_outputs_ = coefs[-1].shape[1]
        self.out_activation_ = self._output_activation()
        self.loss_curve_ = loss_curve
        self.n_iter_ = len(loss_curve)
        self.loss_ = loss_curve[-1] if loss_curve else np.nan
        self.best_loss_ = _best(loss_curve)

    def _stack(self):
        """The fitted parameters as a stack of K = 1 networks (views, not copies)."""
        return [c[None] for c in self.coefs_], [b[None] for b in self.intercepts_]

    def _initialize(self, sizes, rng, dtype=np.float64):
        coefs, intercepts = init_params(
            sizes,
            [rng],
            init_scale=self.init_scale,
            activation=self._hidden_activation(),
            dtype=dtype,
        )
        self._adopt([c[0] for c in coefs], [b[0] for b in intercepts], [])

    def _fit(
        self, X, y, *, incremental, classes=None, sample_weight=None, held_out=None
    ):
        first = not (incremental or self.warm_start) or not hasattr(self, "coefs_")
        if first:
            self._random_state = check_random_state(self.random_state)
        continuing = None if first else ("partial_fit" if incremental else "warm_start")
        Xs, Y, sizes = self._encode(
            X,
            y,
            reset=first,
            classes=classes,
            min_samples=1 if incremental else 2,
            continuing=continuing,
        )
        if first:
            self._initialize(sizes, self._random_state, Xs.dtype)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} outputs but the network was fitted with "
                f"{self.n_outputs_}; refit with warm_start=False."
            )
        coefs, intercepts = self._stack()
        rule = self.update_rule()
        if isinstance(rule, BackpropRule) and not first:
            # momentum carries over warm starts and partial_fit calls
            rule.velocity = getattr(self, "_velocity", None)
        elif isinstance(rule, AdamRule) and incremental and not first:
            # Adam's moments carry over partial_fit calls (scikit-learn's too)
            rule.state = getattr(self, "_adam_state", None)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, Xs)
        monitor = None
        if getattr(self, "early_stopping", False) and not incremental:
            Xs, Y, sample_weight, monitor = self._validation_monitor(
                Xs, Y, sample_weight, held_out
            )
        curves, n_iter, diverged, converged = train(
            coefs,
            intercepts,
            Xs,
            Y,
            rule,
            max_iter=1 if incremental else self.max_iter,
            random_states=[self._random_state],
            tol=None if incremental or monitor else self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            epoch_offset=len(self.loss_curve_),
            on_epoch=monitor,
            sample_weight=sample_weight,
            **self._loop_options(),
        )
        if monitor is not None:
            monitor.restore_best(self)
        self.loss_curve_.extend(curves[0, : n_iter[0]].tolist())
        # as scikit-learn's MLP: the epochs of this call; loss_curve_ keeps all
        self.n_iter_ = int(n_iter[0])
        self.diverged_ = bool(diverged[0] >= 0)
        self._trained_with(rule, 0, first)
        self._velocity = (
            (rule.dcoefs, rule.dintercepts)
            if isinstance(rule, BackpropRule) and not self.diverged_
            else None
        )
        self._adam_state = (
            rule.state if isinstance(rule, AdamRule) and not self.diverged_ else None
        )
        if self.diverged_:
            self._diverged(int(diverged[0]))
        elif self.tol is not None and not incremental and not converged[0]:
            warnings.warn(
                f"Stopped at max_iter={self.max_iter} before the loss stopped "
                f"improving by tol={self.tol}; raise max_iter for a closer fit.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else np.nan
        self.best_loss_ = _best(self.loss_curve_)
        return self

    def _validation_monitor(self, Xs, Y, sample_weight, held_out=None):
        """Split off the validation set of ``early_stopping`` (the rows
        ``held_out``: (training, validation) indices, when the split was made
        before); returns the training part and the loop's epoch hook that
        scores the held-out part (unweighted, as scikit-learn scores it)."""
        if held_out is None:
            stratify = None
            if isinstance(self, ClassifierMixin) and (
                self._label_binarizer.y_type_ != "multilabel-indicator"
            ):
                stratify = Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0]
            held_out = validation_split(
                len(Y), self.validation_fraction, self._random_state, stratify
            )
        train, val = held_out
        w_train = None if sample_weight is None else sample_weight[train]
        return Xs[train], Y[train], w_train, _EarlyStopping(self, Xs[val], Y[val])

    def _trained_with(self, rule, k, first):
        """Read what the rule knows of network k after training (subclasses)."""

    def _diverged(self, epoch):
        """React to training that diverged at ``epoch``: warn (subclasses may raise)."""
        warn_diverged(epoch)

    def _loop_options(self):
        """The loop's settings this estimator trains with."""
        return {
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "hidden_activation": self._hidden_activation(),
            "output_activation": self._output_activation(),
            "loss": self._loss(),
        }

    # -- the forward pass ---------------------------------------------------

    def _check_X(self, X):
        """Validated float X for prediction (sparse X densified)."""
        check_is_fitted(self)
        X = self._check_data(
            X, reset=False, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32]
        )
        return X.toarray() if sparse.issparse(X) else X

    def _forward_output(self, X):
        X = self._check_X(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._check_output(self._forward_raw(X), X)

    def _check_output(self, out, X):
        """``out``, the predictions for X, or a clear error if one is not finite.

        Finite X can still overflow float64 inside the network (a net input
        ``inf - inf`` is NaN); a saturated unit is fine, a NaN never is.
        """
        if not np.isfinite(out).all():
            bad = int((~np.isfinite(out).reshape(len(out), -1).all(axis=1)).sum())
            raise ValueError(
                f"The network's output is not finite for {bad} of the {len(X)} "
                f"rows of X: their values (largest |X| = {np.abs(X).max():.3g}) "
                "overflow float64 inside the network. Rescale X to the range the "
                "estimator was fitted on, or clip its extreme values."
            )
        return out

    def _forward_plan(self, n_rows, dtype=np.float64):
        """What a forward pass of ``n_rows`` rows needs: see :class:`_ForwardPlan`."""
        return _ForwardPlan(self, n_rows, dtype)

    def _forward_raw(self, X, plan=None):
        """The output units for validated float X; no checks (a hot path).

        ``plan``, from :meth:`_forward_plan` for ``len(X)`` rows, is reused
        instead of being made for this call; the result is then a view of its
        buffer, overwritten by the next call with the same plan.
        """
        if plan is None:
            plan = self._forward_plan(X.shape[0], np.result_type(X, self.coefs_[0]))
        acts = plan.acts
        acts[0] = self._scale_inputs(X, first=False, plan=plan)[None]
        _forward(plan.coefs, plan.biases, plan.funcs, acts, plan.ins)
        return plan.output

    def _scale_inputs(self, X, first, plan=None):
        """The network's inputs for X (X itself here; see the regressor)."""
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def validation_split(n_samples, fraction, random_state, stratify=None):
    """``early_stopping``'s split of ``n_samples`` rows: (training, validation)
    row indices, stratified on the labels ``stratify`` when given; the same
    split :func:`~sklearn.model_selection.train_test_split` makes of the
    rows themselves."""
    return train_test_split(
        np.arange(n_samples),
        test_size=fraction,
        random_state=random_state,
        stratify=stratify,
    )


class _EarlyStopping:
    """The loop's epoch hook for ``early_stopping``: score the held-out data,
    keep the best epoch's weights, stop after ``n_iter_no_change`` epochs
    without a gain of ``tol`` (scikit-learn's rule)."""

    def __init__(self, estimator, X_val, Y_val):
        self.X_val = X_val[None]
        self.Y_val = Y_val
        self.classifier = isinstance(estimator, ClassifierMixin)
        self.multilabel = self.classifier and (
            estimator._label_binarizer.y_type_ == "multilabel-indicator"
        )
        self.activations = (
            estimator._hidden_activation(),
            estimator._output_activation(),
        )
        # scikit-learn's default tol when none is set: a tie is no gain
        self.tol = 1e-4 if estimator.tol is None else estimator.tol
        self.patience = estimator.n_iter_no_change
        self.scores, self.best, self.best_params = [], -np.inf, None
        self.no_improve = 0

    def score(self, out):
        """Accuracy for a classifier, R^2 for a regressor (on scaled targets)."""
        Y = self.Y_val
        if not self.classifier:
            return r2_score(Y, out)
        if self.multilabel or Y.shape[1] == 1:
            return float(((out > 0.5) == (Y > 0.5)).all(axis=1).mean())
        return float((out.argmax(axis=1) == Y.argmax(axis=1)).mean())

    def __call__(self, epoch, coefs, intercepts, loss):
        with np.errstate(all="ignore"):
            _, acts = forward(coefs, intercepts, self.X_val, *self.activations)
        out = acts[-1][0]
        score = self.score(out) if np.isfinite(out).all() else -np.inf
        self.scores.append(score)
        self.no_improve = self.no_improve + 1 if score < self.best + self.tol else 0
        if score > self.best:
            self.best = score
            self.best_params = [p[0].copy() for p in [*coefs, *intercepts]]
        return np.array([self.no_improve > self.patience])

    def restore_best(self, estimator):
        estimator.validation_scores_ = list(self.scores)
        estimator.best_validation_score_ = float(self.best)
        if self.best_params is not None:
            for dst, src in zip(
                [*estimator.coefs_, *estimator.intercepts_], self.best_params
            ):
                np.copyto(dst, src)


class _ForwardPlan:
    """A fitted network's forward pass over ``n_rows`` rows, prepared once.

    The parameters as a stack of K = 1 networks (views of ``coefs_`` and
    ``intercepts_``), the layer functions, buffers for the net inputs and
    activations, and whatever the estimator's scaling needs (see
    ``BackpropMLPRegressor._forward_plan``). A plan stays valid while the
    fitted parameters are the same arrays: a learned rule makes one per
    training run and runs the forward pass on every update without
    allocating; ``predict`` makes a fresh one per call.
    """

    def __init__(self, estimator, n_rows, dtype=np.float64):
        coefs, intercepts = estimator._stack()
        self.coefs = coefs
        self.biases = [b[:, None, :] for b in intercepts]
        self.funcs = _layer_functions(
            estimator._hidden_activation(),
            estimator._output_activation(),
            len(coefs),
            0,
        )
        self.ins = [np.empty((1, n_rows, w.shape[2]), dtype=dtype) for w in coefs]
        self.acts = [None, *(np.empty_like(z) for z in self.ins)]
        self.output = self.acts[-1][0]


class _BaseMLPClassifier(ClassifierMixin, _BaseMLP):
    """What the backprop and the learned classifier share: targets, predictions.

    One sigmoid output for two classes, one per class otherwise, trained
    towards one-hot targets; a multilabel target has one output per label.
    """

    def _output_activation(self):
        # the log-loss pairs several exclusive classes with softmax outputs
        if self._loss() == "log_loss" and self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _encode_targets(self, y, *, first, classes=None, continuing=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            hint = (
                " For a continuous target use BackpropMLPRegressor."
                if kind.startswith("continuous")
                else ""
            )
            raise ValueError(
                f"Unknown label type: {kind!r}. {type(self).__name__} handles "
                f"binary, multiclass and multilabel-indicator targets.{hint}"
            )
        if first:
            self._label_binarizer = LabelBinarizer().fit(
                y if classes is None or kind == "multilabel-indicator" else classes
            )
            self.classes_ = self._label_binarizer.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"The target has only one class ({self.classes_.tolist()[0]!r}); "
                    "a classifier needs samples of at least 2 classes."
                )
        if (kind == "multilabel-indicator") != (
            self._label_binarizer.y_type_ == "multilabel-indicator"
        ):
            raise ValueError(
                f"y is {kind} but the classifier was fitted on "
                f"{self._label_binarizer.y_type_} targets."
            )
        if kind == "multilabel-indicator":
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} labels but the classifier was fitted "
                    f"with {len(self.classes_)}."
                )
        else:
            self._check_classes(unique_labels(y), classes, continuing)
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"y holds labels {unseen.tolist()} that are not among "
                    f"classes_={self.classes_.tolist()}."
                )
        return self._label_binarizer.transform(y).astype(np.float64)

    def _check_classes(self, labels, classes, continuing):
        """Refuse targets that do not continue the fitted classes (as
        scikit-learn's MLPClassifier does)."""
        if continuing == "warm_start" and set(labels) != set(self.classes_):
            raise ValueError(
                "warm_start can only be used where y has the same classes as in "
                f"the previous call to fit: previously {self.classes_.tolist()}, "
                f"y has {labels.tolist()}. Refit with warm_start=False."
            )
        if (
            continuing == "partial_fit"
            and classes is not None
            and not np.array_equal(np.unique(classes), self.classes_)
        ):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as on the "
                f"first call to partial_fit, {self.classes_.tolist()}; pass the "
                "same classes, or none after the first call."
            )

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def predict_proba(self, X):
        """Class probabilities from the output units.

        A binary network's single unit y gives ``[1 - y, y]``; with more classes
        the sigmoid outputs (kept within machine epsilon of 0 and 1) are divided by
        their sum; a multilabel network returns each label's unit as it is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        # A saturated sigmoid rounds to exactly 0 or 1; keep probabilities open.
        out = self._forward_output(X)
        eps = np.finfo(out.dtype).eps
        out = np.clip(out, eps, 1.0 - eps)
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            return out
        if out.shape[1] == 1:
            return np.hstack([1.0 - out, out])
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predict the class of each sample (each label's 0/1 when multilabel).

        The most active output unit wins; a single unit or a multilabel unit
        answers yes above 0.5.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        out = self._forward_output(X)
        return self._label_binarizer.inverse_transform(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
