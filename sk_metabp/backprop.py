"""Multilayer perceptrons trained by the paper's plain online backprop."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import _BaseMLP, _BaseMLPClassifier
from ._mlp import _forward
from .rules import AdamRule, BackpropRule

_BACKPROP_CONSTRAINTS = {
    **_BaseMLP._parameter_constraints,
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    # a number is the rate itself, as before learning_rate_init (deprecated)
    "learning_rate": [
        StrOptions({"constant", "invscaling", "adaptive"}),
        Interval(Real, 0, None, closed="neither"),
    ],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "solver": [StrOptions({"sgd", "adam"})],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "fan_in_power": [Interval(Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
}


class _BackpropMixin:
    """Trains with backprop: the update rule of both estimators here."""

    # float32 X trains a float32 network, as in scikit-learn's MLP
    _fit_dtypes = (np.float64, np.float32)

    def _rate(self):
        """The initial learning rate; a number in ``learning_rate`` still is one."""
        if isinstance(self.learning_rate, str):
            return self.learning_rate_init
        warnings.warn(
            f"learning_rate={self.learning_rate!r} as a number is deprecated: the "
            "rate is learning_rate_init, and learning_rate names the schedule, "
            "as in scikit-learn's MLPClassifier. Pass "
            f"learning_rate_init={self.learning_rate!r}.",
            FutureWarning,
            stacklevel=4,
        )
        return float(self.learning_rate)

    def update_rule(self):
        """Backprop at ``learning_rate_init`` with ``momentum`` (or Adam's steps
        with ``solver="adam"``): the rule ``fit`` uses.

        Returns
        -------
        rule : sk_metabp.rules.BackpropRule or sk_metabp.rules.AdamRule
        """
        if self.solver == "adam":
            if self.learning_rate != "constant":
                raise ValueError(
                    f"solver='adam' takes only learning_rate='constant' (Adam "
                    f"sets each weight's step itself); got {self.learning_rate!r}."
                )
            return AdamRule(
                self.learning_rate_init,
                self.beta_1,
                self.beta_2,
                self.epsilon,
                alpha=self.alpha,
                fan_in_power=self.fan_in_power,
            )
        schedule = self.learning_rate
        return BackpropRule(
            self._rate(),
            self.momentum,
            alpha=self.alpha,
            schedule=schedule if isinstance(schedule, str) else "constant",
            power_t=self.power_t,
        )


#: Columns whose largest |value| lies outside [_PLAIN_MIN, _PLAIN_MAX] are
#: standardised without squaring their raw values (see ``_moments``).
_PLAIN_MIN, _PLAIN_MAX = 1e-100, 1e100


def _repeat(v, n_rows):
    """``v`` (n,) repeated to ``(n_rows, n)`` for a few rows, else ``v`` itself.

    On arrays of a few elements numpy's elementwise loops run about twice as
    fast on operands of one shape as when broadcasting a row; the values are
    the same either way.
    """
    return np.tile(v, (n_rows, 1)) if n_rows <= 64 else v


class BackpropMLPClassifier(_BackpropMixin, _BaseMLPClassifier):
    """Sigmoid multilayer perceptron classifier trained by online backprop.

    The paper's basic network: logistic units everywhere, the squared error
    ``J = 1/2 sum_i (ev_i - y_i)^2`` (eq. 2), and plain gradient steps
    ``dw_ij = learning_rate_init * delta_i * x_j`` (rules 3, 5, 6), one pattern at a
    time by default. A binary problem has one output unit (the paper's AND and
    OR nets); ``n`` classes have one sigmoid output each, trained towards one-hot
    targets (the paper's two-output square net).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(4,)
        Units of each hidden layer; ``()`` for none (the paper's 2-0-1 net); an
        int is one hidden layer.
    learning_rate_init : float, default=0.23
        The step size, the paper's gamma (scikit-learn's name).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule of the step size, as in scikit-learn's ``MLPClassifier``
        with ``solver="sgd"``: constant (the paper's);
        ``learning_rate_init / (t + 1) ** power_t`` after each epoch, t the
        patterns seen; or divided by 5 whenever ``tol`` finds the loss on a
        plateau (needs ``tol``), stopping only below 1e-6. A number here is
        deprecated and taken as ``learning_rate_init``.
    power_t : float, default=0.5
        The exponent of ``"invscaling"``.
    momentum : float, default=0.0
        Momentum of the update (0 is the paper's plain backprop).
    solver : {"sgd", "adam"}, default="sgd"
        Plain gradient steps (the paper's, with ``momentum`` and the
        ``learning_rate`` schedule), or Adam's per-weight steps from the same
        gradient (:class:`~sk_metabp.rules.AdamRule`), as scikit-learn's
        ``solver="adam"``; Adam's moments continue over ``partial_fit`` calls
        and start afresh at each ``fit`` (also with ``warm_start``), as
        scikit-learn's do. Adam takes ``learning_rate="constant"`` only and
        ignores ``momentum``; scikit-learn's default rate for it is 0.001.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's decay rates of the gradient's running mean and mean square,
        and the term that keeps its steps finite (``solver="adam"`` only).
    fan_in_power : float, default=0.0
        Adam's steps in a layer are divided by its fan-in (the number of links
        into each of its neurons) to this power: 1 moves every layer's net
        inputs by about ``learning_rate_init`` whatever its width; 0 is
        scikit-learn's Adam (``solver="adam"`` only).
    alpha : float, default=0.0
        Strength of the L2 penalty on the weights (not the biases), added to
        the gradient as scikit-learn does; 0, the paper's, has none.
        ``loss_curve_`` reports the loss without the penalty.
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        Activation of the hidden units (the paper's are logistic).
    loss : {"squared_error", "log_loss"}, default="squared_error"
        The error the network learns: the paper's squared error (eq. 2) on
        sigmoid outputs, or the log-loss (cross-entropy) on sigmoid outputs
        (two classes, multilabel) or softmax outputs (more classes), as
        scikit-learn's ``MLPClassifier`` learns.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), score the
        network on it after every epoch, stop once the score has not improved
        by ``tol`` (1e-4 when None) for more than ``n_iter_no_change`` epochs,
        and keep the weights of the best epoch (``validation_scores_``,
        ``best_validation_score_``).
    validation_fraction : float, default=0.1
        The share of the data held out for ``early_stopping``.
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
        more than ``n_iter_no_change`` consecutive epochs, as scikit-learn's
        ``MLPClassifier`` does (and warn if ``max_iter`` comes first); ``None``
        (the paper's way) runs all ``max_iter`` epochs and so never warns.
    n_iter_no_change : int or np.inf, default=10
        Patience of ``tol``; ``np.inf`` never stops.
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
        Epochs run by the last call to ``fit`` (or ``partial_fit``: 1), as in
        scikit-learn; ``loss_curve_`` keeps every epoch of every call.
    best_loss_ : float
        The lowest entry of ``loss_curve_``.
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
    >>> clf = BackpropMLPClassifier(hidden_layer_sizes=(1,), learning_rate_init=0.23,
    ...                             max_iter=5000, random_state=0).fit(X, y)
    >>> clf.predict(X)
    array([0, 0, 0, 1])
    >>> len(clf.loss_curve_), clf.loss_curve_[-1] < 0.01
    (5000, True)
    """

    _parameter_constraints = {
        **_BACKPROP_CONSTRAINTS,
        "loss": [StrOptions({"squared_error", "log_loss"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(4,),
        *,
        learning_rate_init=0.23,
        learning_rate="constant",
        power_t=0.5,
        momentum=0.0,
        solver="sgd",
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        fan_in_power=0.0,
        alpha=0.0,
        activation="logistic",
        loss="squared_error",
        max_iter=200,
        batch_size=1,
        shuffle=False,
        init_scale=1.0,
        tol=None,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.solver = solver
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.fan_in_power = fan_in_power
        self.alpha = alpha
        self.activation = activation
        self.loss = loss
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.init_scale = init_scale
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for ``max_iter`` epochs from fresh weights.

        With ``warm_start=True`` training continues from the fitted weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Each pattern's weight: it scales the pattern's step (as
            scikit-learn's SGD estimators do) and its share of the loss.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over (X, y), continuing from the fitted weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class, required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, e.g. "
                "partial_fit(X, y, classes=np.unique(y_all))."
            )
        return self._fit(
            X, y, incremental=True, classes=classes, sample_weight=sample_weight
        )


class BackpropMLPRegressor(_BackpropMixin, RegressorMixin, _BaseMLP):
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
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        Activation of the hidden units.
    learning_rate_init : float, default=0.01
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
    power_t : float, default=0.5
    momentum : float, default=0.9
    solver : {"sgd", "adam"}, default="sgd"
        Plain gradient steps (the paper's, with ``momentum`` and the
        ``learning_rate`` schedule), or Adam's per-weight steps from the same
        gradient (:class:`~sk_metabp.rules.AdamRule`), as scikit-learn's
        ``solver="adam"``; Adam's moments continue over ``partial_fit`` calls
        and start afresh at each ``fit`` (also with ``warm_start``), as
        scikit-learn's do. Adam takes ``learning_rate="constant"`` only and
        ignores ``momentum``; scikit-learn's default rate for it is 0.001.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's decay rates of the gradient's running mean and mean square,
        and the term that keeps its steps finite (``solver="adam"`` only).
    fan_in_power : float, default=0.0
        Adam's steps in a layer are divided by its fan-in (the number of links
        into each of its neurons) to this power: 1 moves every layer's net
        inputs by about ``learning_rate_init`` whatever its width; 0 is
        scikit-learn's Adam (``solver="adam"`` only).
    alpha : float, default=0.0
    early_stopping : bool, default=False
        As in :class:`BackpropMLPClassifier`, scored by R^2.
    validation_fraction : float, default=0.1
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

    def _output_activation(self):
        return "identity"

    _parameter_constraints = {
        **_BACKPROP_CONSTRAINTS,
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        *,
        activation="logistic",
        learning_rate_init=0.01,
        learning_rate="constant",
        power_t=0.5,
        momentum=0.9,
        solver="sgd",
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        fan_in_power=0.0,
        alpha=0.0,
        max_iter=200,
        batch_size=32,
        shuffle=True,
        standardize=True,
        init_scale=1.0,
        tol=None,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        random_state=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.solver = solver
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.fan_in_power = fan_in_power
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
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

    @staticmethod
    def _moments(A, standardize):
        if not standardize:
            return np.zeros(A.shape[1]), np.ones(A.shape[1])
        # Columns of huge (or tiny) magnitude are divided by their largest
        # |value| first: their squares would overflow to inf (or underflow to 0)
        # in std. Other columns keep the plain formula, and so their bits.
        big = np.abs(A).max(axis=0, initial=0.0).astype(np.float64)
        odd = (big > _PLAIN_MAX) | ((big > 0) & (big < _PLAIN_MIN))
        if odd.any():
            by = np.where(odd, big, 1.0)
            unit = A / by
            mean, scale = unit.mean(axis=0) * by, unit.std(axis=0) * by
        else:
            mean, scale = A.mean(axis=0), A.std(axis=0)
        return mean, np.where(scale > 0, scale, 1.0)

    def _encode_targets(self, y, *, first, classes=None, continuing=None):
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"y must be numeric: {type(self).__name__} predicts numbers, but "
                f"y has dtype {y.dtype}. Convert it (e.g. y.astype(float)), or use "
                "a classifier for class labels."
            )
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

    def _forward_plan(self, n_rows, dtype=np.float64):
        plan = super()._forward_plan(n_rows, dtype)
        plan.x_mean, plan.x_scale, plan.y_mean, plan.y_scale = (
            _repeat(v.astype(dtype, copy=False), n_rows)
            for v in (self.x_mean_, self.x_scale_, self.y_mean_, self.y_scale_)
        )
        plan.centered = np.empty((n_rows, self.x_mean_.shape[0]), dtype=dtype)
        plan.inputs = np.empty_like(plan.centered)
        plan.unscaled = np.empty_like(plan.output)
        return plan

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for ``max_iter`` epochs from fresh weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`BackpropMLPClassifier.fit`. The standardisation
            (``standardize=True``) is of the unweighted data.

        Returns
        -------
        self : object
        """
        self._keep_target_names(y)
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

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
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch over (X, y), continuing from the fitted weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._keep_target_names(y)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        """Predict the targets of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        X = self._check_X(X)
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._check_output(self._predict_raw(X), X)
        return out[:, 0] if self._y_1d else out

    def make_predictor(self, n_rows, dtype=np.float64):
        """A fast prediction path for ``n_rows`` rows (the predictor protocol).

        Returns ``predictor(X, out=None)`` for a C-contiguous ``X`` of
        ``dtype`` and exactly ``n_rows`` rows, already validated: the 2-d
        predictions (one column per output), written into ``out`` when given.
        Nothing is checked and nothing allocated per call, which is what a
        learned rule needs at every update (see :mod:`sk_metabp.rules`).

        With ``dtype=np.float64`` the predictions are :meth:`predict`'s to
        the last bit. With ``np.float32`` the forward pass is a few BLAS calls
        in single precision: the standardisation is folded into the first and
        last layers' weights, and logistic units are computed as
        ``(1 + tanh(z / 2)) / 2`` with the constants folded into the weights,
        so a layer is one matrix product, one addition and one ``tanh``. The
        predictions then agree with :meth:`predict` to about 1e-6 of their
        scale, and a large forward pass runs several times faster. This
        predictor has ``ones_column = True``: ``X`` may carry one more column,
        all ones, which stands for the first layer's bias (see
        :mod:`sk_metabp.rules`).

        Parameters
        ----------
        n_rows : int
        dtype : {np.float64, np.float32}, default=np.float64

        Returns
        -------
        predictor : callable

        Examples
        --------
        >>> import numpy as np
        >>> from sk_metabp import BackpropMLPRegressor
        >>> X = np.linspace(0, 1, 40)[:, None]
        >>> reg = BackpropMLPRegressor((4,), max_iter=5, random_state=0).fit(X, X[:, 0])
        >>> predictor = reg.make_predictor(40)
        >>> np.allclose(predictor(X)[:, 0], reg.predict(X))
        True
        """
        check_is_fitted(self)
        dtype = np.dtype(dtype)
        if dtype == np.float32:
            return _SinglePrecisionPredictor(self, n_rows)
        if dtype != np.float64:
            raise ValueError(
                f"make_predictor takes dtype np.float64 or np.float32; got {dtype}."
            )
        plan = self._forward_plan(n_rows)
        # the body of _predict_raw, inline: a learned rule calls it at every
        # update, on arrays of a few elements, where each Python call counts
        coefs, biases, funcs, acts, ins = (
            plan.coefs,
            plan.biases,
            plan.funcs,
            plan.acts,
            plan.ins,
        )
        acts[0] = plan.inputs[None]
        x_mean, x_scale, centered, inputs = (
            plan.x_mean,
            plan.x_scale,
            plan.centered,
            plan.inputs,
        )
        y_mean, y_scale, unscaled, output = (
            plan.y_mean,
            plan.y_scale,
            plan.unscaled,
            plan.output,
        )

        def predictor(X, out=None):
            np.subtract(X, x_mean, centered)
            np.divide(centered, x_scale, inputs)
            _forward(coefs, biases, funcs, acts, ins)
            np.multiply(output, y_scale, unscaled)
            return np.add(unscaled, y_mean, out)

        return predictor

    def _predict_raw(self, X, plan=None, out=None):
        """2-D predictions for validated float X; ``predict`` and the learned
        rule's fast path.

        With ``plan`` (from :meth:`_forward_plan` for ``len(X)`` rows) and
        ``out`` (shape ``(len(X), n_outputs)``) nothing is allocated.
        """
        if plan is None:
            plan = self._forward_plan(X.shape[0], np.result_type(X, self.coefs_[0]))
        raw = self._forward_raw(X, plan)
        np.multiply(raw, plan.y_scale, plan.unscaled)
        return np.add(plan.unscaled, plan.y_mean, out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class _SinglePrecisionPredictor:
    """A fitted regressor's forward pass in float32, its constants folded in.

    See :meth:`BackpropMLPRegressor.make_predictor`. Layer l computes
    ``t_l = f(t_{l-1} @ W_l + b_l)`` with ``f = tanh`` on hidden layers
    (logistic or tanh units; relu and identity units are their own) and the
    identity at the outputs. The folds, exact in real arithmetic: inputs
    ``(x - m) / s`` give ``W_1 / s`` and ``b_1 - (m / s) @ W_1``; a logistic
    unit ``1 / (1 + e^-z) = (1 + tanh(z / 2)) / 2`` halves its layer's
    weights and bias, and the next layer, fed ``(1 + t) / 2``, takes half its
    weights and adds half their column sums to its bias; outputs ``z * s_y +
    m_y`` scale the last layer. Given ``X`` with a last column of ones (one
    more than the learner's features), the first layer's bias is a row of its
    weights, and the addition is spared.
    """

    ones_column = True

    def __init__(self, reg, n_rows):
        logistic = reg.activation == "logistic"
        # relu against a zero array, not a scalar: numpy's broadcasting
        # maximum is several times slower
        self.hidden = {"logistic": "tanh", "tanh": "tanh"}.get(
            reg.activation, reg.activation
        )
        coefs, intercepts = reg.coefs_, reg.intercepts_
        L = len(coefs)
        self.layers, self.buffers = [], []
        for l, (W, b) in enumerate(zip(coefs, intercepts)):
            if l == 0:
                b = b - (reg.x_mean_ / reg.x_scale_) @ W
                W = W / reg.x_scale_[:, None]
            elif logistic:
                b = b + 0.5 * W.sum(axis=0)
                W = 0.5 * W
            if l < L - 1 and logistic:
                W, b = 0.5 * W, 0.5 * b
            if l == L - 1:
                W, b = W * reg.y_scale_, b * reg.y_scale_ + reg.y_mean_
            self.layers.append((W.astype(np.float32), b.astype(np.float32)))
            self.buffers.append(np.empty((n_rows, W.shape[1]), dtype=np.float32))
        W, b = self.layers[0]
        self.first_with_bias = np.vstack([W, b])
        self.n_features = W.shape[0]
        self.zeros = [np.zeros_like(buf) for buf in self.buffers[:-1]]

    def __call__(self, X, out=None):
        h = X
        last = len(self.layers) - 1
        for l, ((W, b), buf) in enumerate(zip(self.layers, self.buffers)):
            if l == 0 and X.shape[1] > self.n_features:
                np.matmul(h, self.first_with_bias, out=buf)
            else:
                np.matmul(h, W, out=buf)
                np.add(buf, b, out=buf)
            if l < last:
                if self.hidden == "tanh":
                    np.tanh(buf, out=buf)
                elif self.hidden == "relu":
                    np.maximum(buf, self.zeros[l], out=buf)
            h = buf
        if out is None:
            return h
        np.copyto(out, h)
        return out
