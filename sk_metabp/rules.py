"""Update rules: what turns a network's state into its weight changes.

Every network in the library is trained by one loop (``sk_metabp._mlp.train``,
driven through an estimator's :meth:`~sk_metabp.BackpropMLPClassifier.train_students`),
and an **update rule** is the part that decides each change. A rule sees a
:class:`Step`, the state of K networks in lockstep at one update (weights,
activations, expected outputs, errors; backprop's deltas on demand), and
returns ``(dcoefs, dintercepts)`` shaped like the parameters, which the loop
adds to them. The protocol (:class:`UpdateRule`) has three calls:

- ``start(step)`` once before the first update: allocate buffers for the
  shapes of ``step``'s networks;
- ``rule(step)`` at every update: return the changes;
- ``end_epoch(epoch, params, loss, active, finite, start_params)`` after
  every epoch: see the losses, and optionally restore some networks'
  parameters.

The rules here: :class:`BackpropRule` (rules 3, 5 and 6 of
``docs/equations.md``, with optional momentum), :class:`AdamRule` (backprop's
gradient with Adam's per-weight step sizes), :class:`LearnedRule` (a fitted
learner predicts the changes), :class:`BoundedRule` (clips another rule's
changes, and treats a non-finite change as divergence) and
:class:`FallbackRule` (hands a network whose loss rises over to another rule).

Learners. :class:`LearnedRule` asks any fitted regressor for predictions
through its ``predict``. A regressor may offer a faster path, the **predictor
protocol**: a method ``make_predictor(n_rows)`` returning a callable
``predictor(X, out=None)`` that maps a C-contiguous float64 array of exactly
``n_rows`` rows, already validated, to its ``(n_rows, n_outputs)``
predictions, writes them into ``out`` when given, and allocates nothing per
call. It may take ``dtype=np.float32`` for float32 rows (a faster, less
exact forward pass). A predictor whose attribute ``ones_column`` is True
also takes ``X`` with one more column, all ones, after the features: it
stands for the first layer's bias, sparing an addition over the hidden
layer (link mode then gathers it with the rows).
:class:`~sk_metabp.BackpropMLPRegressor` implements the protocol;
:func:`learner_predictor` picks the fastest path a learner offers.
"""

import math

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator

from ._mlp import ParamLayout, Step

__all__ = [
    "Step",
    "ParamLayout",
    "UpdateRule",
    "BackpropRule",
    "AdamRule",
    "BoundedRule",
    "FallbackRule",
    "LearnedRule",
    "learner_predictor",
    "teacher_rate",
    "unwrap_learner",
]


class UpdateRule:
    """Base class of update rules: a state in, weight and bias changes out.

    Subclasses implement :meth:`__call__`, returning ``(dcoefs, dintercepts)``
    shaped like the parameters; the loop adds them to the parameters after the
    callback has seen them. :meth:`start` runs once before the first update.
    Changes that are views of one ``(K, n_params)`` array in the parameters'
    flat order (every weight, then every bias, as :class:`ParamLayout` cuts it) are
    applied with a single addition; a rule that returns the same lists on every
    call must keep their elements and write into them in place.
    """

    def start(self, step):
        """Prepare buffers for the shapes of ``step``'s networks."""

    def __call__(self, step):
        raise NotImplementedError

    def end_epoch(self, epoch, params, loss, active, finite, start_params):
        """See each epoch's end: a rule may restore some networks' parameters.

        ``params`` is the live ``(K, n_params)`` array (changed in place to
        restore), ``loss`` the epoch's losses ``(K,)``, ``active`` the networks
        still training, ``finite`` whether every loss and parameter is finite,
        ``start_params`` the ``(K, n_params)`` parameters the networks started
        the epoch with (the loop's buffer: read it, copy what must outlive the
        call), and ``epoch`` counts from 0. An epoch's loss is the mean of its
        patterns' errors, each measured before its own update: it describes
        the weights along the epoch, mostly those it started with. Returns
        None, or a boolean mask of the networks whose parameters the rule
        restored: the loop does not stop those for a non-finite loss.
        """
        return None

    def on_plateau(self, stalled):
        """The networks the loop is about to stop for lack of improvement.

        ``stalled`` is a boolean mask; returns the mask of those to stop. A
        rule may keep some (say, after lowering their step size): the loop
        then counts their patience afresh. The default stops them all.
        """
        return stalled


class BackpropRule(UpdateRule):
    """Backprop, rules (5), (6) and (3), with optional momentum, L2 and schedule.

    With a batch of B patterns the change is the mean of the B patterns'
    changes; with ``momentum`` m the change is ``m * previous + gamma * ...``.
    ``alpha`` adds scikit-learn's L2 penalty to the gradient: each weight (not
    bias) also moves by ``-gamma * alpha * w / B``. ``velocity``, the
    ``(dcoefs, dintercepts)`` a previous run ended with, continues the
    momentum of that run (a warm start); otherwise the first update has no
    previous change.

    ``schedule`` sets the step size gamma over training, as scikit-learn's
    ``MLPClassifier(solver="sgd")`` does: ``"constant"``; ``"invscaling"``,
    ``gamma_0 / (t + 1) ** power_t`` after each epoch, t the patterns seen; or
    ``"adaptive"``, which divides a network's gamma by 5 each time the loop
    finds its loss on a plateau (see the loop's ``tol``), stopping it only once
    gamma is below 1e-6. ``rates`` holds each network's current gamma.
    """

    def __init__(
        self,
        learning_rate,
        momentum=0.0,
        *,
        velocity=None,
        alpha=0.0,
        schedule="constant",
        power_t=0.5,
    ):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity = velocity
        self.alpha = alpha
        self.schedule = schedule
        self.power_t = power_t

    def start(self, step):
        if self.schedule not in ("constant", "invscaling", "adaptive"):
            raise ValueError(
                f"Unknown schedule {self.schedule!r}; choose 'constant', "
                "'invscaling' or 'adaptive'."
            )
        K = step.n_networks
        layout = ParamLayout.of(step.coefs)
        self.flat, self.dcoefs, self.dintercepts = layout.zeros(K, step.dtype)
        if self.velocity is not None:
            dcoefs, dintercepts = self.velocity
            mine = [*self.dcoefs, *self.dintercepts]
            theirs = [*dcoefs, *dintercepts]
            if [a.shape for a in theirs] != [a.shape for a in mine]:
                raise ValueError("velocity does not match the shapes of the networks.")
            for dst, src in zip(mine, theirs):
                np.copyto(dst, src)
        self._n_samples = step.n_samples
        # Each network's gamma: one 0-d array while it is constant (the
        # paper's case), per network (K, 1, 1) when a schedule moves it.
        shape = () if self.schedule == "constant" else (K, 1, 1)
        self.rates = np.full(shape, float(self.learning_rate))
        self._by_batch = {}  # B -> [gamma / B, decay / B or None, scaled deltas]
        self._tmp = [np.empty_like(w) for w in self.dcoefs]
        # An online update without momentum (the paper's) writes gamma * delta_i
        # straight into the bias changes, viewed as (K, 1, n_l); the weight
        # changes are then its outer product with x_j, one elementwise multiply.
        self._online = [d[:, None, :] for d in self.dintercepts]
        self._online_fast = not self.momentum

    def _batch_buffers(self, deltas):
        B = deltas[0].shape[1]
        buffers = self._by_batch.get(B)
        if buffers is None:
            buffers = self._by_batch[B] = [
                np.array(self.rates / B)
                if self.rates.ndim
                else np.array(float(self.learning_rate) / B),
                np.array(self.rates * (self.alpha / B)) if self.alpha else None,
                [np.empty_like(d) for d in deltas],
            ]
        return buffers

    def _refresh(self):
        """Write the current rates into every batch size's scaled copies."""
        for B, (rate, decay, _) in self._by_batch.items():
            np.divide(self.rates, B, out=rate)
            if decay is not None:
                np.multiply(self.rates, self.alpha / B, out=decay)

    def __call__(self, step):
        deltas = step.deltas()
        acts = step.acts
        rate, decay, scaled = self._batch_buffers(deltas)
        if self._online_fast and deltas[0].shape[1] == 1:
            for a, d, db, dw in zip(acts, deltas, self._online, self.dcoefs):
                np.multiply(d, rate, db)
                np.multiply(a.transpose(0, 2, 1), db, dw)
        else:
            if self.momentum:
                self.flat *= self.momentum
            for a, d, s, dw, db, tmp in zip(
                acts, deltas, scaled, self.dcoefs, self.dintercepts, self._tmp
            ):
                np.multiply(d, rate, out=s)
                if self.momentum:
                    dw += np.matmul(a.transpose(0, 2, 1), s, out=tmp)
                    db += np.add.reduce(s, axis=1)
                else:
                    np.matmul(a.transpose(0, 2, 1), s, out=dw)
                    np.add.reduce(s, axis=1, out=db)
        if decay is not None:
            for w, dw, tmp in zip(step.coefs, self.dcoefs, self._tmp):
                np.multiply(w, decay, out=tmp)
                np.subtract(dw, tmp, out=dw)
        return self.dcoefs, self.dintercepts

    def end_epoch(self, epoch, params, loss, active, finite, start_params):
        if self.schedule == "invscaling":
            t = (epoch + 1) * self._n_samples
            self.rates.fill(self.learning_rate / (t + 1) ** self.power_t)
            self._refresh()
        return None

    def on_plateau(self, stalled):
        if self.schedule != "adaptive":
            return stalled
        rates = self.rates.reshape(-1)
        stop = stalled & (rates <= 1e-6)
        rates[stalled & ~stop] /= 5.0
        self._refresh()
        return stop


class FallbackRule(UpdateRule):
    """Train by ``rule``; a network whose loss rises falls back to ``fallback``.

    After each epoch, a network still trained by ``rule`` whose epoch loss is
    above ``(1 + tol)`` times its lowest so far, or whose loss or weights are
    not finite, gets back the weights it started its best epoch with, and
    ``fallback`` makes its changes from then on. ``fell_back[k]`` is the epoch
    (counting from 1) at which network k fell back, or -1.

    An epoch's loss is measured along the epoch, each pattern before its own
    update, so it belongs to the weights the epoch started with more than to
    those it ended with: a rule that wrecks the weights within an epoch can
    still show a good loss for it. The candidates are therefore the weights
    each epoch started with, the initial weights first.

    This guards against a learned rule that drifts where it was never fitted
    (the paper's students whose error rises after a while): the cost of a bad
    rule is bounded by the epochs it lost, and a good rule never triggers it.
    """

    def __init__(self, rule, fallback, tol):
        self.rule = rule
        self.fallback = fallback
        self.tol = tol

    def start(self, step):
        self.rule.start(step)
        self.fallback.start(step)
        K = step.n_networks
        layout = ParamLayout.of(step.coefs)
        self.flat, self.dcoefs, self.dintercepts = layout.zeros(K, step.dtype)
        self.best_params = layout.flatten(step.coefs, step.intercepts)
        self.best = np.full(K, np.inf)
        # any finite loss is within the limit until a first epoch sets it
        self._limit = np.full(K, np.finfo(float).max)
        self._within = np.empty(K, dtype=bool)
        self._better = np.empty(K, dtype=bool)
        self.fell_back = np.full(K, -1)
        self.on_fallback = np.zeros(K, dtype=bool)
        self._any_fallen = self._all_fallen = False

    def __call__(self, step):
        if not self._any_fallen:
            return self.rule(step)
        on = self.on_fallback
        # the fallback first: a delta-mode rule overwrites the step's deltas
        dcoefs, dintercepts = self.fallback(step)
        if self._all_fallen:
            return dcoefs, dintercepts
        mine = [*self.dcoefs, *self.dintercepts]
        learned = self.rule(step)
        for dst, src in zip(mine, [*learned[0], *learned[1]]):
            np.copyto(dst, src)
        for dst, src in zip(mine, [*dcoefs, *dintercepts]):
            np.copyto(dst, src, where=on.reshape(-1, *([1] * (dst.ndim - 1))))
        return self.dcoefs, self.dintercepts

    def on_plateau(self, stalled):
        # each network asks the rule it is trained by
        return np.where(
            self.on_fallback,
            self.fallback.on_plateau(stalled),
            self.rule.on_plateau(stalled),
        )

    def end_epoch(self, epoch, params, loss, active, finite, start_params):
        self.rule.end_epoch(epoch, params, loss, active, finite, start_params)
        self.fallback.end_epoch(epoch, params, loss, active, finite, start_params)
        # the usual epoch, a few numpy calls: every loss and weight finite, and
        # every loss within its limit (NaN and inf compare False)
        within = np.less_equal(loss, self._limit, out=self._within)
        if finite and within.all():
            bad = None
        else:
            if not finite:
                within &= np.isfinite(params).all(axis=1)
            bad = active & ~self.on_fallback & ~within
            if bad.any():
                params[bad] = self.best_params[bad]
                self.on_fallback |= bad
                self.fell_back[bad] = epoch + 1
                self._limit[bad] = np.inf  # a fallen network is not watched
                self._any_fallen = True
                self._all_fallen = bool(self.on_fallback.all())
            else:
                bad = None
        # stopped networks are never restored: their best does not matter
        better = np.less(loss, self.best, out=self._better)
        if not self._all_fallen and better.any():
            if self._any_fallen:
                better &= ~self.on_fallback
            np.copyto(self.best, loss, where=better)
            np.copyto(self.best_params, start_params, where=better[:, None])
            np.multiply(self.best, 1 + self.tol, out=self._limit, where=better)
        return bad


class BoundedRule(UpdateRule):
    """Clip the changes of ``rule`` to ``[-max_update, max_update]``.

    A learner that extrapolates wildly cannot then throw the weights far in
    one step. A change that is not finite (a learner that predicts inf or NaN)
    is not clipped into a plausible one: it becomes NaN, so the loop treats
    the network as diverged (the estimator then warns, raises or falls back,
    as its ``on_divergence`` says) instead of training on a clipped infinity.
    ``n_nonfinite`` counts the updates that had such a change.
    """

    def __init__(self, rule, max_update):
        self.rule = rule
        self.max_update = max_update

    def start(self, step):
        self.rule.start(step)
        self._layout = ParamLayout.of(step.coefs)
        self.flat, self.dcoefs, self.dintercepts = self._layout.zeros(
            step.n_networks, step.dtype
        )
        self._raw = np.empty_like(self.flat)
        self._lower = np.empty_like(self.flat)
        # bounds as full arrays: numpy's minimum and maximum against a scalar
        # take about twice as long
        self._hi = np.full_like(self.flat, float(self.max_update))
        self._lo = -self._hi
        self._seen = (None, None, None)
        self.n_nonfinite = 0

    def __call__(self, step):
        dcoefs, dintercepts = self.rule(step)
        seen = self._seen
        if dcoefs is not seen[0] or dintercepts is not seen[1]:
            seen = self._seen = (
                dcoefs,
                dintercepts,
                self._layout.base_of(dcoefs, dintercepts),
            )
        raw = seen[2]
        if raw is None:
            raw = self._layout.flatten(dcoefs, dintercepts, out=self._raw)
        np.minimum(raw, self._hi, out=self._lower)
        np.maximum(self._lower, self._lo, out=self.flat)
        # one dot product per update (numpy's cheapest reduction): finite
        # unless a change is not, or it overflows, which the exact test clears
        line = raw.reshape(-1)
        if not math.isfinite(np.dot(line, line)):
            bad = ~np.isfinite(raw)
            if bad.any():
                self.n_nonfinite += 1
                self.flat[bad] = np.nan
        return self.dcoefs, self.dintercepts

    def end_epoch(self, epoch, params, loss, active, finite, start_params):
        return self.rule.end_epoch(epoch, params, loss, active, finite, start_params)

    def on_plateau(self, stalled):
        return self.rule.on_plateau(stalled)


def unwrap_learner(learner):
    """The estimator inside a :class:`~sklearn.frozen.FrozenEstimator`, or
    ``learner`` itself."""
    return learner.estimator if isinstance(learner, FrozenEstimator) else learner


def teacher_rate(teacher):
    """The learning rate a teacher estimator steps at, for the modes that need one.

    Its update rule's ``learning_rate`` (backprop's), else the estimator's
    ``learning_rate_init`` (a custom rule's nominal rate), else None. Delta
    mode's rule and link mode's residual targets step at this rate.

    Parameters
    ----------
    teacher : estimator
        With :meth:`update_rule`, such as a backprop estimator.

    Returns
    -------
    rate : float or None

    Examples
    --------
    >>> from sk_metabp import BackpropMLPClassifier
    >>> from sk_metabp.rules import teacher_rate
    >>> teacher_rate(BackpropMLPClassifier(learning_rate_init=0.5))
    0.5
    """
    rate = getattr(teacher.update_rule(), "learning_rate", None)
    if rate is None:
        rate = getattr(teacher, "learning_rate_init", None)
    return None if rate is None else float(rate)


def learner_predictor(learner, n_rows, feature_names=None, dtype=np.float64):
    """The fastest prediction path ``learner`` offers, for ``n_rows`` rows.

    Returns a callable ``predictor(X, out=None)``: the learner's own
    ``make_predictor(n_rows)`` when it has one (the predictor protocol, see the
    module's docstring; ``make_predictor(n_rows, dtype=dtype)`` for another
    ``dtype`` than float64), else a wrapper of ``predict`` that passes a
    DataFrame with ``feature_names`` to a learner fitted on named columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sk_metabp.rules import learner_predictor
    >>> reg = LinearRegression().fit([[0.0], [1.0]], [[0.0], [2.0]])
    >>> predictor = learner_predictor(reg, 2)
    >>> predictor(np.array([[3.0], [4.0]])).round(6).tolist()
    [[6.0], [8.0]]
    """
    learner = unwrap_learner(learner)
    make = getattr(learner, "make_predictor", None)
    if make is not None:
        if np.dtype(dtype) == np.float64:
            return make(n_rows)
        return make(n_rows, dtype=dtype)
    named = feature_names is not None and hasattr(learner, "feature_names_in_")
    names = list(feature_names) if named else None

    def predictor(X, out=None):
        rows = pd.DataFrame(X, columns=names) if named else X
        pred = np.asarray(learner.predict(rows), dtype=np.float64)
        pred = pred.reshape(X.shape[0], -1)
        if out is None:
            return pred
        np.copyto(out, pred)
        return out

    return predictor


class LearnedRule(UpdateRule):
    """An update rule that asks a fitted learner for the changes.

    ``mode`` (see :func:`sk_metabp._modes.make_mode`) builds the learner's rows
    from each update's state and turns the predictions back into changes; the
    rows of all K networks go to the learner in one call, through
    :func:`learner_predictor`. Wrap it in :class:`BoundedRule` to bound the
    changes (the estimators do, with ``max_update``).

    Parameters
    ----------
    mode : mode object
        What the learner reads and predicts.
    learner : regressor or FrozenEstimator
        A fitted learner whose inputs are ``mode.feature_names`` and outputs
        ``mode.target_names``.
    dtype : {np.float64, np.float32}, default=np.float64
        Of the learner's rows and of the predictor asked for (see the
        predictor protocol): float32 is faster on large networks and changes
        the predictions by about 1e-6 of their size.
    """

    def __init__(self, mode, learner, dtype=np.float64):
        self.mode = mode
        self.learner = unwrap_learner(learner)
        self.dtype = np.dtype(dtype)

    def start(self, step):
        K = step.n_networks
        self.flat, self.dcoefs, self.dintercepts = self.mode.layout.zeros(K)
        self._predictors = {}
        self._state = self.mode.learned_state(step, self)

    def predictor(self, n_rows):
        """The learner's predictor for ``n_rows`` rows, made once per size."""
        p = self._predictors.get(n_rows)
        if p is None:
            names = self.mode.feature_names
            p = self._predictors[n_rows] = learner_predictor(
                self.learner, n_rows, names, dtype=self.dtype
            )
        return p

    def ones_column(self, n_rows):
        """Whether the predictor for ``n_rows`` rows takes a last column of ones
        (see the predictor protocol)."""
        return bool(getattr(self.predictor(n_rows), "ones_column", False))

    def predict(self, rows, out=None):
        """Learner outputs for rows of shape (K, R, F): shape (K, R, T).

        ``rows`` may carry a last column of ones when :meth:`ones_column` says
        the predictor takes it.

        The result may be a buffer that the next call with as many rows
        overwrites.
        """
        K, R, F = rows.shape
        if rows.dtype != self.dtype:
            rows = rows.astype(self.dtype)
        flat_out = None if out is None else out.reshape(K * R, -1)
        pred = self.predictor(K * R)(rows.reshape(K * R, F), flat_out)
        return pred.reshape(K, R, -1)

    def __call__(self, step):
        self.mode.learned_changes(step, self, self.flat, self._state)
        return self.dcoefs, self.dintercepts


class AdamRule(UpdateRule):
    """Backprop's gradient with Adam's steps, as scikit-learn's ``solver="adam"``.

    With ``g`` the batch-mean gradient of rules (5), (6) and (3) per unit rate
    (the change :class:`BackpropRule` makes at rate 1, with ``alpha``'s L2 term
    ``-alpha * w / B`` on the weights), every update ``t = 1, 2, ...`` keeps
    per-parameter running averages ``m = beta_1 m + (1 - beta_1) g`` and ``v =
    beta_2 v + (1 - beta_2) g**2`` and changes each parameter by ``gamma_t * m
    / (sqrt(v) + epsilon)`` with ``gamma_t = gamma * sqrt(1 - beta_2**t) / (1 -
    beta_1**t)``: a step of about ``gamma`` in the direction the gradient
    keeps, whatever its scale. With ``fan_in_power`` p, the steps of a layer's
    weights and biases are divided by ``n ** p``, n the number of links into
    each of its neurons (the link variable ``fan_in``): with p = 1 a layer's
    net inputs move by about ``gamma`` whatever its width. ``state``, the ``(m,
    v, t)`` a previous run ended with (``m`` and ``v`` of shape ``(K,
    n_params)`` in the parameters' flat order), continues that run;
    :attr:`state` holds the current one.

    Examples
    --------
    >>> from sk_metabp import BackpropMLPClassifier
    >>> from sk_metabp.datasets import make_boolean
    >>> X, y = make_boolean("xor")
    >>> clf = BackpropMLPClassifier((4,), solver="adam", learning_rate_init=0.05,
    ...                             max_iter=300, random_state=0).fit(X, y)
    >>> type(clf.update_rule()).__name__, clf.predict(X).tolist()
    ('AdamRule', [0, 1, 1, 0])
    """

    def __init__(
        self,
        learning_rate,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        *,
        alpha=0.0,
        fan_in_power=0.0,
        state=None,
    ):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
        self.fan_in_power = fan_in_power
        self.state = state

    def start(self, step):
        K = step.n_networks
        layout = ParamLayout.of(step.coefs)
        self.flat, self.dcoefs, self.dintercepts = layout.zeros(K, step.dtype)
        self._grad, self._gcoefs, self._gintercepts = layout.zeros(K, step.dtype)
        self._m, self._v = np.zeros_like(self.flat), np.zeros_like(self.flat)
        self._t = 0
        if self.state is not None:
            m, v, t = self.state
            if np.shape(m) != self.flat.shape or np.shape(v) != self.flat.shape:
                raise ValueError("Adam's state does not match the networks' shapes.")
            np.copyto(self._m, m)
            np.copyto(self._v, v)
            self._t = int(t)
        self.state = (self._m, self._v, self._t)
        self._tmp = [np.empty_like(w) for w in self.dcoefs]
        self._sq = np.empty_like(self.flat)
        self._scale = None
        if self.fan_in_power:
            # one factor per parameter, in the flat order: n_in ** -p
            scale = layout.fan_in() ** -float(self.fan_in_power)
            self._scale = scale.astype(step.dtype)[None]

    def __call__(self, step):
        deltas = step.deltas()
        B = deltas[0].shape[1]
        for a, d, gw, gb in zip(step.acts, deltas, self._gcoefs, self._gintercepts):
            np.matmul(a.transpose(0, 2, 1), d, out=gw)
            gw /= B
            np.add.reduce(d, axis=1, out=gb)
            gb /= B
        if self.alpha:
            for w, gw, tmp in zip(step.coefs, self._gcoefs, self._tmp):
                np.multiply(w, self.alpha / B, out=tmp)
                gw -= tmp
        g, m, v, sq = self._grad, self._m, self._v, self._sq
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        m += (1.0 - b1) * g
        np.multiply(g, g, out=sq)
        v *= b2
        v += (1.0 - b2) * sq
        self._t += 1
        t = self._t
        rate = self.learning_rate * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        np.sqrt(v, out=sq)
        sq += self.epsilon
        np.divide(m, sq, out=self.flat)
        self.flat *= rate
        if self._scale is not None:
            self.flat *= self._scale
        self.state = (m, v, t)
        return self.dcoefs, self.dintercepts
