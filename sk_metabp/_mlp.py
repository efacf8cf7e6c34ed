"""Stacks of K small networks: initialisation, the forward pass, backprop, the loop.

Every array carries a leading axis of length K, one slice per independent network,
so K networks (different seeds, or different tasks of one shape) train in lockstep
and pay numpy's per-call overhead once. Layer ``l`` (1-based, as in the column
names of :mod:`sk_metabp._modes`) maps layer ``l - 1`` to layer ``l``; layer 0 is
the input and layer ``L = len(coefs)`` the output:

- ``coefs[l - 1]``: shape ``(K, n_{l-1}, n_l)``, the weights ``w_ij`` into layer l;
- ``intercepts[l - 1]``: shape ``(K, n_l)``, the biases ``theta_i`` of layer l;
- activations: shape ``(K, B, n_l)`` for a batch of B patterns.

The paper's equations (``PAPER.md``): (1) ``x_i = f(in_i)``,
``in_i = sum_j w_ij x_j + theta_i``; (2) ``J = 1/2 sum_i (ev_i - y_i)^2``;
(5) ``delta_i = (ev_i - y_i) f'(in_i)`` at the outputs; (6)
``delta_i = f'(in_i) sum_h delta_h w_hi`` in hidden layers; (3)
``dw_ij = gamma delta_i x_j`` and ``dtheta_i = gamma delta_i``.
"""

import math
import warnings

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

# A 0-d array: ufuncs take it without converting a Python float on every call.
_ONE = np.ones(())

# Two numpy costs shape the hot loop, whose arrays are tiny: every elementwise
# result goes to a different array than its inputs (numpy is two to three times
# slower in place on one-element arrays, and the paper's 2-1-1 network is made of
# them), and outputs are passed positionally (parsing ``out=`` adds about a
# quarter to a ufunc call on such arrays).


def _tanh(x, out):
    return np.tanh(x, out)


def _identity(x, out):
    np.copyto(out, x)
    return out


def _logistic_deriv(y, out, scratch):
    # f'(in) from the output y = f(in): y (1 - y)
    np.subtract(_ONE, y, scratch)
    return np.multiply(scratch, y, out)


def _tanh_deriv(y, out, scratch):
    np.multiply(y, y, scratch)
    return np.subtract(_ONE, scratch, out)


def _identity_deriv(y, out, scratch):
    out.fill(1.0)
    return out


#: activation name -> (``f(in, out)``, ``f'(y, out, scratch)``: the derivative
#: written from the output y = f(in))
ACTIVATIONS = {
    "logistic": (expit, _logistic_deriv),
    "tanh": (_tanh, _tanh_deriv),
    "identity": (_identity, _identity_deriv),
}


def _layer_functions(hidden_activation, output_activation, n_layers, which):
    """``f`` (``which=0``) or ``f'`` (``which=1``) of layers 1..L."""
    hidden = ACTIVATIONS[hidden_activation][which]
    return [hidden] * (n_layers - 1) + [ACTIVATIONS[output_activation][which]]


def layer_sizes(n_features, hidden_layer_sizes, n_outputs):
    """Sizes of every layer, inputs first: ``[n_0, n_1, ..., n_L]``."""
    return [int(n_features), *(int(h) for h in hidden_layer_sizes), int(n_outputs)]


def init_params(sizes, random_states, *, init_scale=1.0, activation="logistic"):
    """Draw the weights and biases of K networks, one random state each.

    Weights and biases of layer l are uniform on ``[-a, a]`` with Glorot's bound
    ``a = init_scale * sqrt(c / (n_{l-1} + n_l))``, ``c = 2`` for logistic units and
    6 otherwise (scikit-learn's ``MLPClassifier`` draws the same way). Network k
    draws from ``random_states[k]`` only, so a network is the same whether it is
    initialised alone or in a stack.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = init_scale * np.sqrt(factor / (fan_in + fan_out))
        w = np.empty((len(random_states), fan_in, fan_out))
        b = np.empty((len(random_states), fan_out))
        for k, rng in enumerate(random_states):
            w[k] = rng.uniform(-bound, bound, (fan_in, fan_out))
            b[k] = rng.uniform(-bound, bound, fan_out)
        coefs.append(w)
        intercepts.append(b)
    return coefs, intercepts


def _n_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _param_views(flat, sizes):
    """Cut a ``(K, n_params)`` array into views shaped like coefs and intercepts.

    The order is every weight (layer by layer, each ``(n_{l-1}, n_l)`` block in C
    order), then every bias: :class:`sk_metabp._modes.ParamLayout` names it.
    """
    K = flat.shape[0]
    coefs, intercepts, pos = [], [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        coefs.append(flat[:, pos : pos + a * b].reshape(K, a, b))
        pos += a * b
    for b in sizes[1:]:
        intercepts.append(flat[:, pos : pos + b])
        pos += b
    return coefs, intercepts


def _flat_buffer(step):
    """A zero ``(K, n_params)`` array for the networks of ``step``, and its views
    shaped like their coefs and intercepts (:func:`_param_views`)."""
    sizes = [step.coefs[0].shape[1], *(w.shape[2] for w in step.coefs)]
    flat = np.zeros((step.n_networks, _n_params(sizes)))
    return (flat, *_param_views(flat, sizes))


def _shared_flat(dcoefs, dintercepts, shape, sizes):
    """The ``(K, n_params)`` array the changes are views of, laid out like the
    parameters (:func:`_param_views`), or None if they are not."""
    base = dcoefs[0].base
    if base is None or base.shape != shape or base.dtype != np.float64:
        return None
    expected = [v.__array_interface__ for vs in _param_views(base, sizes) for v in vs]
    got = [*dcoefs, *dintercepts]
    if len(got) != len(expected) or any(
        a.base is not base or a.__array_interface__ != e for a, e in zip(got, expected)
    ):
        return None
    return base


def _forward(coefs, biases, funcs, acts, ins):
    """Rule (1) into preallocated buffers: ``acts[0]`` in, ``ins``, ``acts[1:]`` out.

    ``biases`` are the intercepts viewed as ``(K, 1, n_l)``.
    """
    for l, (w, b, f) in enumerate(zip(coefs, biases, funcs)):
        # acts[l + 1] holds the weighted sum until f overwrites it
        np.add(np.matmul(acts[l], w, acts[l + 1]), b, ins[l])
        f(ins[l], acts[l + 1])


def forward(
    coefs, intercepts, X, hidden_activation, output_activation, ins=None, acts=None
):
    """The forward pass (rule 1) of K networks; the only one in the library.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Shapes ``(K, n_{l-1}, n_l)`` and ``(K, n_l)``.
    X : ndarray of shape (K, B, n_0)
        One batch of inputs per network.
    hidden_activation, output_activation : str
        Keys of :data:`ACTIVATIONS`.
    ins, acts : list of ndarray, optional
        Buffers to write the net inputs ``in`` of layers 1..L and the activations
        of layers 1..L into; missing ones (None) are allocated.

    Returns
    -------
    ins : list of ndarray
        Net inputs of layers 1..L, each ``(K, B, n_l)``.
    acts : list of ndarray
        Activations of layers 0..L; ``acts[0]`` is ``X`` itself.
    """
    ins = [None] * len(coefs) if ins is None else ins
    acts = [None] * len(coefs) if acts is None else acts
    shape = X.shape[:-1]
    for l, w in enumerate(coefs):
        if ins[l] is None:
            ins[l] = np.empty((*shape, w.shape[-1]))
        if acts[l] is None:
            acts[l] = np.empty_like(ins[l])
    out = [X, *acts]
    funcs = _layer_functions(hidden_activation, output_activation, len(coefs), 0)
    _forward(coefs, [b[:, None, :] for b in intercepts], funcs, out, ins)
    return ins, out


class Step:
    """What an update rule may see: the state of K networks at one update.

    The loop fills ``coefs``, ``intercepts`` (the live parameters, before the
    update), ``ins`` (net inputs of layers 1..L), ``acts`` (activations of layers
    0..L: inputs, hidden activations, outputs), ``ev`` (expected outputs),
    ``err = ev - y``, ``epoch`` and ``step`` (0-based), and ``index``, the row of
    the training data each network sees, shape ``(K, B)``. ``fprime`` and
    ``deltas`` (rules 5 and 6) are computed on first use and cached until
    :meth:`invalidate`; ``deltas[l - 1]`` belongs to layer l. The arrays are
    buffers the loop reuses: copy what must outlive the update.
    """

    def __init__(self, coefs, intercepts, hidden_activation, output_activation):
        self.coefs = coefs
        self.intercepts = intercepts
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.ins = [None] * len(coefs)
        self.acts = [None] * (len(coefs) + 1)
        self.ev = self.err = self.index = None
        self.epoch = self.step = 0
        self._derivs = _layer_functions(
            hidden_activation, output_activation, len(coefs), 1
        )
        # (fprime, deltas, scratch) buffers by shape of ins[0], and the ins[0]
        # they serve
        self._buffers = {}
        self._buffers_for = None
        self._fprime = self._deltas = self._scratch = None
        self._fresh = False

    @property
    def n_networks(self):
        return self.coefs[0].shape[0]

    @property
    def batch_size(self):
        return self.acts[0].shape[1]

    def fprime(self):
        """``f'(in)`` of layers 1..L, written from the activations."""
        if not self._fresh:
            self._compute()
        return self._fprime

    def deltas(self):
        """Backprop's error signals of layers 1..L (rules 5 and 6)."""
        if not self._fresh:
            self._compute()
        return self._deltas

    def _compute(self):
        if self.ins[0] is not self._buffers_for:
            shape = self.ins[0].shape
            if shape not in self._buffers:
                self._buffers[shape] = tuple(
                    [np.empty_like(a) for a in self.ins] for _ in range(3)
                )
            self._fprime, self._deltas, self._scratch = self._buffers[shape]
            self._buffers_for = self.ins[0]
        fprime, deltas, scratch = self._fprime, self._deltas, self._scratch
        acts = self.acts
        for l, f in enumerate(self._derivs):
            f(acts[l + 1], fprime[l], scratch[l])
        # rule 5 at the outputs, rule 6 backwards through the hidden layers
        np.multiply(self.err, fprime[-1], deltas[-1])
        for l in range(len(deltas) - 1, 0, -1):
            back = np.matmul(
                deltas[l], self.coefs[l].transpose(0, 2, 1), scratch[l - 1]
            )
            np.multiply(back, fprime[l - 1], deltas[l - 1])
        self._fresh = True

    def invalidate(self):
        """Forget the cached ``fprime`` and ``deltas`` (the state has changed)."""
        self._fresh = False


class UpdateRule:
    """Base class of update rules: a state in, weight and bias changes out.

    Subclasses implement :meth:`__call__`, returning ``(dcoefs, dintercepts)``
    shaped like the parameters; the loop adds them to the parameters after the
    callback has seen them. :meth:`start` runs once before the first update.
    Changes that are views of one ``(K, n_params)`` array in the parameters'
    flat order (every weight, then every bias, as ``_param_views`` cuts it) are
    applied with a single addition; a rule that returns the same lists on every
    call must keep their elements and write into them in place.
    """

    def start(self, step):
        """Prepare buffers for the shapes of ``step``'s networks."""

    def __call__(self, step):
        raise NotImplementedError

    def end_epoch(self, epoch, params, loss, active, finite):
        """See each epoch's end: a rule may restore some networks' parameters.

        ``params`` is the live ``(K, n_params)`` array (changed in place to
        restore), ``loss`` the epoch's losses ``(K,)``, ``active`` the networks
        still training, ``finite`` whether every loss and parameter is finite,
        and ``epoch`` counts from 0. Returns None, or a boolean mask of the
        networks whose parameters the rule restored: the loop does not stop
        those for a non-finite loss.
        """
        return None


class BackpropRule(UpdateRule):
    """Online backprop, rules (5), (6) and (3), with optional momentum.

    With a batch of B patterns the change is the mean of the B patterns'
    changes; with ``momentum`` m the change is ``m * previous + gamma * ...``.
    ``velocity``, the ``(dcoefs, dintercepts)`` a previous run ended with,
    continues the momentum of that run (a warm start); otherwise the first
    update has no previous change.
    """

    def __init__(self, learning_rate, momentum=0.0, *, velocity=None):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity = velocity

    def start(self, step):
        self.flat, self.dcoefs, self.dintercepts = _flat_buffer(step)
        if self.velocity is not None:
            dcoefs, dintercepts = self.velocity
            mine = [*self.dcoefs, *self.dintercepts]
            theirs = [*dcoefs, *dintercepts]
            if [a.shape for a in theirs] != [a.shape for a in mine]:
                raise ValueError("velocity does not match the shapes of the networks.")
            for dst, src in zip(mine, theirs):
                np.copyto(dst, src)
        # An online update without momentum (the paper's) writes gamma * delta_i
        # straight into the bias changes, viewed as (K, 1, n_l); the weight
        # changes are then its outer product with x_j, one elementwise multiply.
        self._online_rate = None if self.momentum else np.array(self.learning_rate)
        self._online = [d[:, None, :] for d in self.dintercepts]
        self._by_batch = {}  # B -> (gamma / B as a 0-d array, scaled deltas)
        self._tmp = [np.empty_like(w) for w in self.dcoefs]

    def _batch_buffers(self, deltas):
        B = deltas[0].shape[1]
        if B not in self._by_batch:
            rate = np.array(self.learning_rate / B)
            self._by_batch[B] = (rate, [np.empty_like(d) for d in deltas])
        return self._by_batch[B]

    def __call__(self, step):
        deltas = step.deltas()
        acts = step.acts
        rate = self._online_rate
        if rate is not None and deltas[0].shape[1] == 1:
            for a, d, db, dw in zip(acts, deltas, self._online, self.dcoefs):
                np.multiply(d, rate, db)
                np.multiply(a.transpose(0, 2, 1), db, dw)
            return self.dcoefs, self.dintercepts
        rate, scaled = self._batch_buffers(deltas)
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
        return self.dcoefs, self.dintercepts


class FallbackRule(UpdateRule):
    """Train by ``rule``; a network whose loss rises falls back to ``fallback``.

    After each epoch, a network still trained by ``rule`` whose epoch loss is
    above ``(1 + tol)`` times its lowest so far, or whose loss or weights are
    not finite, gets back the weights it ended its best epoch with (its
    initial weights before any epoch ended well), and ``fallback`` makes its
    changes from then on. ``fell_back[k]`` is the epoch (counting from 1) at
    which network k fell back, or -1.

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
        self.flat, self.dcoefs, self.dintercepts = _flat_buffer(step)
        self.best_params, *best = _flat_buffer(step)
        for dst, src in zip([*best[0], *best[1]], [*step.coefs, *step.intercepts]):
            np.copyto(dst, src)
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

    def end_epoch(self, epoch, params, loss, active, finite):
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
            np.copyto(self.best_params, params, where=better[:, None])
            np.multiply(self.best, 1 + self.tol, out=self._limit, where=better)
        return bad


def _per_network(a, K):
    """View ``a`` (n, d) or (K, n, d) as (K, n, d)."""
    return np.broadcast_to(a, (K, *a.shape)) if a.ndim == 2 else a


def train(
    coefs,
    intercepts,
    X,
    Y,
    rule,
    *,
    max_iter,
    batch_size=1,
    shuffle=False,
    random_states=None,
    hidden_activation="logistic",
    output_activation="logistic",
    callback=None,
    tol=None,
    n_iter_no_change=10,
    verbose=False,
    epoch_offset=0,
):
    """The training loop: train K networks in lockstep, updating them in place.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        Parameters of K networks, changed in place. While the loop runs, the
        live parameters are ``step.coefs`` and ``step.intercepts`` (views of one
        flat array); these arrays receive them when the loop returns.
    X : ndarray of shape (n_samples, n_0) or (K, n_samples, n_0)
        Inputs, shared by the K networks or one set per network.
    Y : ndarray of shape (n_samples, n_L) or (K, n_samples, n_L)
        Expected outputs ``ev``.
    rule : UpdateRule
        Maps a :class:`Step` to weight and bias changes.
    max_iter : int
        Epochs (the paper's training cycles: one pass over the patterns each).
    batch_size : int
        Patterns per update; 1 is online learning (the paper's way).
    shuffle : bool
        Draw a new pattern order each epoch (network k from ``random_states[k]``);
        otherwise the patterns go in the order given.
    callback : callable, optional
        ``callback(step, dcoefs, dintercepts)`` after the rule and before the
        change is applied; the recorder samples here.
    tol, n_iter_no_change : float or None, int
        With ``tol`` set, a network stops once its epoch loss has not fallen
        below its best by more than ``tol`` for ``n_iter_no_change`` epochs.
    verbose : bool
        Print the loss after every epoch (network 0).
    epoch_offset : int
        Number of the first epoch, for warm starts.

    Returns
    -------
    loss_curves : ndarray of shape (K, n_epochs_run)
        The pattern error J (eq. 2) averaged over the epoch's patterns, each
        measured before its own update; NaN after a network stopped.
    n_iter : ndarray of shape (K,)
        Epochs each network completed.
    diverged : ndarray of shape (K,)
        The epoch (counting from ``epoch_offset + 1``) at which a network's loss or
        weights became non-finite, or -1. A diverged network keeps the weights it
        had at the start of that epoch and is not updated again.
    converged : ndarray of bool, shape (K,)
        Whether ``tol`` stopped the network before ``max_iter``.
    """
    K = coefs[0].shape[0]
    sizes = [coefs[0].shape[1], *(w.shape[2] for w in coefs)]
    random_states = random_states or [None] * K
    X = _per_network(X, K)
    Y = _per_network(Y, K)
    n = X.shape[1]
    batch_size = max(1, min(int(batch_size), n))

    # The live parameters are views of one (K, n_params) array: saving, checking
    # and restoring them, and adding changes laid out the same way, are then one
    # numpy call each, however many layers there are.
    params = np.empty((K, _n_params(sizes)))
    live_coefs, live_intercepts = _param_views(params, sizes)
    for dst, src in zip([*live_coefs, *live_intercepts], [*coefs, *intercepts]):
        np.copyto(dst, src)
    saved = np.empty_like(params)
    biases = [b[:, None, :] for b in live_intercepts]
    funcs = _layer_functions(hidden_activation, output_activation, len(coefs), 0)
    step = Step(live_coefs, live_intercepts, hidden_activation, output_activation)

    # Each epoch writes its pattern order into Xe, Ye and its updates' errors
    # into E; each batch's views of them, and the forward buffers for its size,
    # are made once, so the hot loop only unpacks tuples.
    Xe = np.empty((K, n, X.shape[2]))
    Ye = np.empty((K, n, Y.shape[2]))
    E = np.empty((K, n, Y.shape[2]))
    idx = np.broadcast_to(np.arange(n), (K, n)).copy()
    by_size = {}
    batches = []
    for start in range(0, n, batch_size):
        s = slice(start, min(start + batch_size, n))
        B = s.stop - s.start
        if B not in by_size:
            ins = [np.empty((K, B, m)) for m in sizes[1:]]
            by_size[B] = (ins, [None, *(np.empty_like(z) for z in ins)])
        batches.append((Xe[:, s], Ye[:, s], E[:, s], idx[:, s], *by_size[B]))

    # Epoch-major loss curves: an epoch writes its row; per-network sums of
    # squared errors are one matmul, (K, 1, n * n_L) @ (K, n * n_L, 1).
    curves = np.full((max_iter, K), np.nan)
    E_rows, E_cols = E.reshape(K, 1, -1), E.reshape(K, -1, 1)
    sq = np.empty((K, 1, 1))
    half_mean = np.array(0.5 / n)
    n_iter = np.zeros(K, dtype=int)
    diverged = np.full(K, -1)
    converged = np.zeros(K, dtype=bool)
    active = np.ones(K, dtype=bool)
    all_active = True
    best = np.full(K, np.inf)
    no_improve = np.zeros(K, dtype=int)
    rule.start(step)
    seen = (None, None, None)  # the last changes returned, and their flat array
    if not shuffle:
        Xe[...] = X
        Ye[...] = Y
    total_step = 0
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for it in range(max_iter):
                epoch = epoch_offset + it
                if shuffle:
                    for k, rng in enumerate(random_states):
                        idx[k] = rng.permutation(n)
                    Xe[...] = np.take_along_axis(X, idx[:, :, None], axis=1)
                    Ye[...] = np.take_along_axis(Y, idx[:, :, None], axis=1)
                np.copyto(saved, params)
                # stopped networks keep their weights; a mask, not a product with
                # 0, so that an infinite change from a rule leaves no NaN behind
                keep = True if all_active else active[:, None]
                step.epoch = epoch
                for xv, yv, err, iv, ins, acts in batches:
                    acts[0] = xv
                    _forward(live_coefs, biases, funcs, acts, ins)
                    np.subtract(yv, acts[-1], err)
                    step.ins = ins
                    step.acts = acts
                    step.ev = yv
                    step.err = err
                    step.index = iv
                    step.step = total_step
                    step.invalidate()
                    dcoefs, dintercepts = rule(step)
                    if callback is not None:
                        callback(step, dcoefs, dintercepts)
                    if dcoefs is not seen[0] or dintercepts is not seen[1]:
                        flat = _shared_flat(dcoefs, dintercepts, params.shape, sizes)
                        seen = (dcoefs, dintercepts, flat)
                    flat = seen[2]
                    if flat is not None:
                        np.add(params, flat, out=params, where=keep)
                    elif all_active:
                        for w, b, dw, db in zip(
                            live_coefs, live_intercepts, dcoefs, dintercepts
                        ):
                            w += dw
                            b += db
                    else:
                        for w, b, dw, db in zip(
                            live_coefs, live_intercepts, dcoefs, dintercepts
                        ):
                            np.add(w, dw, out=w, where=keep[:, :, None])
                            np.add(b, db, out=b, where=keep)
                    total_step += 1
                loss = curves[it]
                np.multiply(np.matmul(E_rows, E_cols, sq).reshape(K), half_mean, loss)
                # A sum over every weight and loss is finite unless one of them is
                # not (or the sum overflows: the exact test then clears it).
                total = np.add.reduce(params, axis=None) + np.add.reduce(loss)
                all_finite = math.isfinite(total)
                restored = rule.end_epoch(epoch, params, loss, active, all_finite)
                if not all_finite:
                    finite = np.isfinite(params).all(axis=1) & np.isfinite(loss)
                    if restored is not None:
                        finite |= restored
                    newly = active & ~finite
                    if newly.any():
                        params[newly] = saved[newly]
                        diverged[newly] = epoch + 1
                        active &= ~newly
                        all_active = False
                if not all_active:
                    loss[~active] = np.nan
                n_iter += active
                if verbose:
                    print(f"Iteration {epoch + 1}, loss = {loss[0]:.8f}")
                if tol is not None:
                    improved = loss < best - tol
                    no_improve = np.where(improved, 0, no_improve + 1)
                    best = np.minimum(best, loss)
                    done = active & (no_improve >= n_iter_no_change)
                    if done.any():
                        converged |= done
                        active &= ~done
                        all_active = False
                if not all_active and not active.any():
                    break
    finally:
        for dst, src in zip([*coefs, *intercepts], [*live_coefs, *live_intercepts]):
            np.copyto(dst, src)
    loss_curves = np.ascontiguousarray(curves[: n_iter.max(initial=0)].T)
    return loss_curves, n_iter, diverged, converged


def warn_diverged(epoch, where="Training"):
    """Warn that training diverged at ``epoch``, keeping the last finite weights."""
    warnings.warn(
        f"{where} diverged at epoch {epoch}: the loss or a weight became "
        "non-finite. Training stopped and the weights from the start of that "
        "epoch (the last finite ones) were kept. Lower the learning rate or "
        "bound the updates.",
        ConvergenceWarning,
        stacklevel=3,
    )
