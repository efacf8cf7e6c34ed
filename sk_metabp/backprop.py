"""Multilayer perceptrons trained by the paper's plain online backprop."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._mlp import (
    BackpropRule,
    _forward,
    _layer_functions,
    init_params,
    layer_sizes,
    train,
    warn_diverged,
)


class _BaseBackpropMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, fit and forward.

    Subclasses set ``_output_activation`` and implement ``_encode_targets`` (y to
    expected outputs ``ev``) and ``_scale_inputs``; :meth:`_make_rule` returns
    the update rule the loop trains with (backprop here; a learned rule in
    :class:`~sk_metabp.LearnedRuleMLPClassifier`).
    """

    _parameter_constraints = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _hidden_activation(self):
        return getattr(self, "activation", "logistic")

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

    def _make_rule(self):
        return BackpropRule(self.learning_rate, self.momentum)

    def _stack(self):
        """The fitted parameters as a stack of K = 1 networks (views, not copies)."""
        return [c[None] for c in self.coefs_], [b[None] for b in self.intercepts_]

    def _initialize(self, n_features, n_outputs, rng):
        sizes = layer_sizes(n_features, self._validate_hidden(), n_outputs)
        coefs, intercepts = init_params(
            sizes,
            [rng],
            init_scale=self.init_scale,
            activation=self._hidden_activation(),
        )
        self.coefs_ = [c[0] for c in coefs]
        self.intercepts_ = [b[0] for b in intercepts]
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.out_activation_ = self._output_activation
        self.loss_curve_ = []
        self.n_iter_ = 0

    def _training_data(self, X, y, *, first=True, classes=None):
        """Validate (X, y) and encode them as the loop's inputs and targets ``ev``.

        With ``first`` the encoders (classes, standardisation) are fitted.
        Returns the inputs, the expected outputs and the layer sizes.
        """
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=np.float64,
            multi_output=True,
            ensure_min_samples=2,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        Y = self._encode_targets(y, first=first, classes=classes)
        Xs = self._scale_inputs(X, first=first)
        return Xs, Y, layer_sizes(X.shape[1], self._validate_hidden(), Y.shape[1])

    def _fit(self, X, y, *, incremental, classes=None):
        first = not (incremental or self.warm_start) or not hasattr(self, "coefs_")
        if first:
            self._random_state = check_random_state(self.random_state)
        Xs, Y, _ = self._training_data(X, y, first=first, classes=classes)
        if first:
            self._initialize(Xs.shape[1], Y.shape[1], self._random_state)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} outputs but the network was fitted with "
                f"{self.n_outputs_}; refit with warm_start=False."
            )
        coefs, intercepts = self._stack()
        rule = self._make_rule()
        if isinstance(rule, BackpropRule) and not first:
            # momentum carries over warm starts and partial_fit calls
            rule.velocity = getattr(self, "_velocity", None)
        curves, n_iter, diverged, converged = train(
            coefs,
            intercepts,
            Xs,
            Y,
            rule,
            max_iter=1 if incremental else self.max_iter,
            random_states=[self._random_state],
            tol=None if incremental else self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            epoch_offset=self.n_iter_,
            **self._loop_options(),
        )
        self.loss_curve_.extend(curves[0, : n_iter[0]].tolist())
        self.n_iter_ += int(n_iter[0])
        self.diverged_ = bool(diverged[0] >= 0)
        self._trained_with(rule, first)
        self._velocity = (
            (rule.dcoefs, rule.dintercepts)
            if isinstance(rule, BackpropRule) and not self.diverged_
            else None
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
        return self

    def _trained_with(self, rule, first):
        """Read what the rule of one training call knows (subclasses)."""

    def _diverged(self, epoch):
        """React to training that diverged at ``epoch``: warn (subclasses may raise)."""
        warn_diverged(epoch)

    def _forward_output(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._forward_raw(X)

    def _forward_plan(self, n_rows):
        """What a forward pass of ``n_rows`` rows needs: see :class:`_ForwardPlan`."""
        return _ForwardPlan(self, n_rows)

    def _forward_raw(self, X, plan=None):
        """The output units for validated float X; no checks (a hot path).

        ``plan``, from :meth:`_forward_plan` for ``len(X)`` rows, is reused
        instead of being made for this call; the result is then a view of its
        buffer, overwritten by the next call with the same plan.
        """
        if plan is None:
            plan = self._forward_plan(X.shape[0])
        acts = plan.acts
        acts[0] = self._scale_inputs(X, first=False, plan=plan)[None]
        _forward(plan.coefs, plan.biases, plan.funcs, acts, plan.ins)
        return plan.output

    def _loop_options(self):
        """The loop's settings this estimator trains with."""
        return {
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "hidden_activation": self._hidden_activation(),
            "output_activation": self._output_activation,
        }

    def _train_stack(
        self, X, Y, sizes, seeds, *, rule=None, callback=None, max_iter=None
    ):
        """Train K fresh networks of this kind in lockstep, network k from seeds[k].

        Network k is the one ``fit`` trains with ``random_state=seeds[k]``.
        Returns the stacked ``coefs``, ``intercepts`` and the loop's results.
        """
        rngs = [np.random.RandomState(s) for s in seeds]
        coefs, intercepts = init_params(
            sizes,
            rngs,
            init_scale=self.init_scale,
            activation=self._hidden_activation(),
        )
        result = train(
            coefs,
            intercepts,
            X,
            Y,
            rule if rule is not None else self._make_rule(),
            max_iter=self.max_iter if max_iter is None else max_iter,
            random_states=rngs,
            callback=callback,
            **self._loop_options(),
        )
        return coefs, intercepts, result

    def _scale_inputs(self, X, first, plan=None):
        """The network's inputs for X (X itself here; see the regressor)."""
        return X


def _repeat(v, n_rows):
    """``v`` (n,) repeated to ``(n_rows, n)`` for a few rows, else ``v`` itself.

    On arrays of a few elements numpy's elementwise loops run about twice as
    fast on operands of one shape as when broadcasting a row; the values are
    the same either way.
    """
    return np.tile(v, (n_rows, 1)) if n_rows <= 64 else v


class _ForwardPlan:
    """A fitted network's forward pass over ``n_rows`` rows, prepared once.

    The parameters as a stack of K = 1 networks (views of ``coefs_`` and
    ``intercepts_``), the layer functions, buffers for the net inputs and
    activations, and whatever the estimator's scaling needs (see
    ``BackpropMLPRegressor._forward_plan``). A plan stays valid while the
    fitted parameters are the same arrays: the learned rule makes one per
    training run and runs the forward pass on every update without
    allocating; ``predict`` makes a fresh one per call.
    """

    def __init__(self, estimator, n_rows):
        coefs, intercepts = estimator._stack()
        self.coefs = coefs
        self.biases = [b[:, None, :] for b in intercepts]
        self.funcs = _layer_functions(
            estimator._hidden_activation(),
            estimator._output_activation,
            len(coefs),
            0,
        )
        self.ins = [np.empty((1, n_rows, w.shape[2])) for w in coefs]
        self.acts = [None, *(np.empty_like(z) for z in self.ins)]
        self.output = self.acts[-1][0]


class BackpropMLPClassifier(ClassifierMixin, _BaseBackpropMLP):
    """Sigmoid multilayer perceptron classifier trained by online backprop.

    The paper's basic network: logistic units everywhere, the squared error
    ``J = 1/2 sum_i (ev_i - y_i)^2`` (eq. 2), and plain gradient steps
    ``dw_ij = learning_rate * delta_i * x_j`` (rules 3, 5, 6), one pattern at a
    time by default. A binary problem has one output unit (the paper's AND and
    OR nets); ``n`` classes have one sigmoid output each, trained towards one-hot
    targets (the paper's two-output square net).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(4,)
        Units of each hidden layer; ``()`` for none (the paper's 2-0-1 net); an
        int is one hidden layer.
    learning_rate : float, default=0.23
        The paper's gamma.
    momentum : float, default=0.0
        Momentum of the update (0 is the paper's plain backprop).
    max_iter : int, default=200
        Epochs, the paper's training cycles: one pass over the patterns each.
    batch_size : int, default=1
        Patterns per update: 1 is online learning (the paper's way); a larger
        batch averages the patterns' changes; ``n_samples`` or more is full batch.
    shuffle : bool, default=False
        Present the patterns in a new random order each epoch; by default they
        go in the order given, as in the paper.
    init_scale : float, default=1.0
        Factor on Glorot's uniform bound ``sqrt(2 / (fan_in + fan_out))`` for
        logistic units, from which weights and biases are drawn.
    tol : float or None, default=None
        With a value, stop once the epoch loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (and warn if ``max_iter`` comes first);
        ``None`` runs all ``max_iter`` epochs, as the paper does.
    n_iter_no_change : int, default=10
        Patience of ``tol``.
    warm_start : bool, default=False
        Continue from the fitted weights on the next ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the pattern order.
    verbose : bool or int, default=False
        Print the loss after each epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        ``coefs_[l]`` has shape ``(n_units[l], n_units[l + 1])``.
    intercepts_ : list of ndarray
    loss_curve_ : list of float
        The pattern error J (eq. 2) averaged over each epoch's patterns, each
        measured just before its own update.
    loss_ : float
        The last entry of ``loss_curve_``.
    n_iter_ : int
        Epochs run, summed over warm starts and ``partial_fit`` calls.
    diverged_ : bool
        Whether the last fit stopped on a non-finite loss or weight.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only with input that has string column names (a pandas DataFrame).
    n_layers_, n_outputs_, out_activation_ : int, int, str

    Examples
    --------
    >>> from sk_metabp import BackpropMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> X, y = make_boolean("and")
    >>> clf = BackpropMLPClassifier(hidden_layer_sizes=(1,), learning_rate=0.23,
    ...                             max_iter=5000, random_state=0).fit(X, y)
    >>> clf.predict(X)
    array([0, 0, 0, 1])
    >>> len(clf.loss_curve_), clf.loss_curve_[-1] < 0.01
    (5000, True)
    """

    _output_activation = "logistic"

    def __init__(
        self,
        hidden_layer_sizes=(4,),
        *,
        learning_rate=0.23,
        momentum=0.0,
        max_iter=200,
        batch_size=1,
        shuffle=False,
        init_scale=1.0,
        tol=None,
        n_iter_no_change=10,
        warm_start=False,
        random_state=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.init_scale = init_scale
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _encode_targets(self, y, *, first, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {kind!r}. {type(self).__name__} handles "
                "binary, multiclass and multilabel-indicator targets."
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
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"y holds labels {unseen.tolist()} that are not among "
                    f"classes_={self.classes_.tolist()}."
                )
        return self._label_binarizer.transform(y).astype(np.float64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train on (X, y) for ``max_iter`` epochs from fresh weights.

        With ``warm_start=True`` training continues from the fitted weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : object
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch over (X, y), continuing from the fitted weights.

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
        if not hasattr(self, "coefs_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, e.g. "
                "partial_fit(X, y, classes=np.unique(y_all))."
            )
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities from the output units.

        A binary network's single unit y gives ``[1 - y, y]``; with more classes
        the sigmoid outputs (kept within machine epsilon of 0 and 1) are divided by
        their sum;
        a multilabel network returns each label's unit as it is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        # A saturated sigmoid rounds to exactly 0 or 1; keep probabilities open.
        eps = np.finfo(np.float64).eps
        out = np.clip(self._forward_output(X), eps, 1.0 - eps)
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


class BackpropMLPRegressor(RegressorMixin, _BaseBackpropMLP):
    """Multi-output MLP regressor on the same loop; the library's default learner.

    Hidden units are logistic (or ``tanh``), outputs are linear. With
    ``standardize=True`` (the default) the estimator standardises X and y
    internally (each column to mean 0 and unit variance, from the data of the
    first ``fit`` / ``partial_fit``) and undoes it on prediction: a learner's
    targets are weight changes of about 1e-3, which plain gradient steps would
    otherwise hardly move. Constant columns keep a scale of 1.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(32,)
    activation : {"logistic", "tanh"}, default="logistic"
        Activation of the hidden units.
    learning_rate : float, default=0.01
    momentum : float, default=0.9
    max_iter : int, default=200
    batch_size : int, default=32
        Mini-batches by default; set 1 (and ``momentum=0``) for the paper's
        online learning network (rate 0.198, 200 cycles, 2 hidden units).
    shuffle : bool, default=True
    standardize : bool, default=True
        Standardise inputs and targets inside the estimator.
    init_scale, tol, n_iter_no_change, warm_start, random_state, verbose
        As in :class:`BackpropMLPClassifier`.

    Attributes
    ----------
    coefs_, intercepts_, loss_curve_, loss_, n_iter_, diverged_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_, out_activation_
        As in :class:`BackpropMLPClassifier`; the loss is on standardised targets.
    x_mean_, x_scale_, y_mean_, y_scale_ : ndarray
        The standardisation (zeros and ones when ``standardize=False``).
    target_names_ : list of str
        The names of y's columns, when y was a DataFrame or a named Series (a
        learned rule checks them against the targets it needs); absent
        otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_metabp import BackpropMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, (500, 3))
    >>> Y = np.c_[X[:, 0] * X[:, 1], 1e-3 * np.sin(3 * X[:, 2])]
    >>> reg = BackpropMLPRegressor(random_state=0).fit(X, Y)
    >>> round(reg.score(X, Y), 2) > 0.9
    True
    """

    _output_activation = "identity"
    _parameter_constraints = {
        **_BaseBackpropMLP._parameter_constraints,
        "activation": [StrOptions({"logistic", "tanh"})],
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        *,
        activation="logistic",
        learning_rate=0.01,
        momentum=0.9,
        max_iter=200,
        batch_size=32,
        shuffle=True,
        standardize=True,
        init_scale=1.0,
        tol=None,
        n_iter_no_change=10,
        warm_start=False,
        random_state=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.standardize = standardize
        self.init_scale = init_scale
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _hidden_activation(self):
        return self.activation

    @staticmethod
    def _moments(A, standardize):
        if not standardize:
            return np.zeros(A.shape[1]), np.ones(A.shape[1])
        scale = A.std(axis=0)
        return A.mean(axis=0), np.where(scale > 0, scale, 1.0)

    def _encode_targets(self, y, *, first, classes=None):
        # C order whatever y came in (a DataFrame is column-major): the same
        # arithmetic, so the same fit, for every container of the same values
        Y = np.ascontiguousarray(y.reshape(len(y), -1))
        if first:
            self._y_1d = y.ndim == 1
            self.y_mean_, self.y_scale_ = self._moments(Y, self.standardize)
        return (Y - self.y_mean_) / self.y_scale_

    def _scale_inputs(self, X, first, plan=None):
        if first:
            self.x_mean_, self.x_scale_ = self._moments(X, self.standardize)
        if plan is None:
            return (X - self.x_mean_) / self.x_scale_
        np.subtract(X, plan.x_mean, plan.centered)
        return np.divide(plan.centered, plan.x_scale, plan.inputs)

    def _forward_plan(self, n_rows):
        plan = super()._forward_plan(n_rows)
        plan.x_mean = _repeat(self.x_mean_, n_rows)
        plan.x_scale = _repeat(self.x_scale_, n_rows)
        plan.y_mean = _repeat(self.y_mean_, n_rows)
        plan.y_scale = _repeat(self.y_scale_, n_rows)
        plan.centered = np.empty((n_rows, self.x_mean_.shape[0]))
        plan.inputs = np.empty_like(plan.centered)
        plan.unscaled = np.empty_like(plan.output)
        return plan

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train on (X, y) for ``max_iter`` epochs from fresh weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : object
        """
        self._keep_target_names(y)
        return self._fit(X, y, incremental=False)

    def _keep_target_names(self, y):
        """Keep y's column names (``target_names_``), or forget earlier ones."""
        names = getattr(y, "columns", None)
        if names is None and getattr(y, "name", None) is not None:
            names = [y.name]
        if names is not None:
            self.target_names_ = [str(n) for n in names]
        elif hasattr(self, "target_names_"):
            del self.target_names_

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Train for one epoch over (X, y), continuing from the fitted weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._keep_target_names(y)
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predict the targets of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._predict_raw(self._check_X(X))
        return out[:, 0] if self._y_1d else out

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _predict_raw(self, X, plan=None, out=None):
        """2-D predictions for validated float X; ``predict`` and the learned
        rule's fast path.

        With ``plan`` (from :meth:`_forward_plan` for ``len(X)`` rows) and
        ``out`` (shape ``(len(X), n_outputs)``) nothing is allocated.
        """
        if plan is None:
            plan = self._forward_plan(X.shape[0])
        raw = self._forward_raw(X, plan)
        np.multiply(raw, plan.y_scale, plan.unscaled)
        return np.add(plan.unscaled, plan.y_mean, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
