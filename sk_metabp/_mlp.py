"""Stacks of K small networks: initialisation, the forward pass, backprop, the loop.

Every array carries a leading axis of length K, one slice per independent network,
so K networks (different seeds, or different tasks of one shape) train in lockstep
and pay numpy's per-call overhead once. Layer ``l`` (1-based, as in the column
names of :mod:`sk_metabp._modes`) maps layer ``l - 1`` to layer ``l``; layer 0 is
the input and layer ``L = len(coefs)`` the output:

- ``coefs[l - 1]``: shape ``(K, n_{l-1}, n_l)``, the weights ``w_ij`` into layer l;
- ``intercepts[l - 1]``: shape ``(K, n_l)``, the biases ``theta_i`` of layer l;
- activations: shape ``(K, B, n_l)`` for a batch of B patterns.

The equations the code uses, numbered as in ``docs/equations.md``: (1)
``x_i = f(in_i)``, ``in_i = sum_j w_ij x_j + theta_i``; (2)
``J = 1/2 sum_i (ev_i - y_i)^2``; (5) ``delta_i = (ev_i - y_i) f'(in_i)`` at
the outputs; (6) ``delta_i = f'(in_i) sum_h delta_h w_hi`` in hidden layers;
(3) ``dw_ij = gamma delta_i x_j`` and ``dtheta_i = gamma delta_i``. With the
log-loss instead of (2), the output delta is ``ev_i - y_i``.
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


def _relu(x, out):
    return np.maximum(x, 0.0, out=out)


def _relu_deriv(y, out, scratch):
    # 1 where the unit is on, from its output y = max(in, 0)
    return np.greater(y, 0.0, out=out)


def _softmax(x, out):
    # over each pattern's outputs, shifted by their max so exp cannot overflow
    np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


#: activation name -> (``f(in, out)``, ``f'(y, out, scratch)``: the derivative
#: written from the output y = f(in)). Softmax's is its diagonal, y (1 - y): with
#: the log-loss it pairs with, the output deltas are the errors themselves.
ACTIVATIONS = {
    "logistic": (expit, _logistic_deriv),
    "tanh": (_tanh, _tanh_deriv),
    "identity": (_identity, _identity_deriv),
    "relu": (_relu, _relu_deriv),
    "softmax": (_softmax, _logistic_deriv),
}

#: The losses the loop trains on: the paper's squared error (2), and the
#: log-loss (cross-entropy) with logistic or softmax outputs.
LOSSES = ("squared_error", "log_loss")


def _layer_functions(hidden_activation, output_activation, n_layers, which):
    """``f`` (``which=0``) or ``f'`` (``which=1``) of layers 1..L."""
    hidden = ACTIVATIONS[hidden_activation][which]
    return [hidden] * (n_layers - 1) + [ACTIVATIONS[output_activation][which]]


def layer_sizes(n_features, hidden_layer_sizes, n_outputs):
    """Sizes of every layer, inputs first: ``[n_0, n_1, ..., n_L]``."""
    return [int(n_features), *(int(h) for h in hidden_layer_sizes), int(n_outputs)]


def init_params(
    sizes, random_states, *, init_scale=1.0, activation="logistic", dtype=np.float64
):
    """Draw the weights and biases of K networks, one random state each.

    Weights and biases of layer l are uniform on ``[-a, a]`` with Glorot's bound
    ``a = init_scale * sqrt(c / (n_{l-1} + n_l))``, ``c = 2`` for logistic units and
    6 otherwise (scikit-learn's ``MLPClassifier`` draws the same way). Network k
    draws from ``random_states[k]`` only, so a network is the same whether it is
    initialised alone or in a stack. The draws are in float64 whatever
    ``dtype``, so a float32 network starts from the float64 one's weights,
    rounded.
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
        coefs.append(w.astype(dtype, copy=False))
        intercepts.append(b.astype(dtype, copy=False))
    return coefs, intercepts


class ParamLayout:
    """The flat order of a network's parameters: every weight, then every bias.

    The one home of the layout. Weights of layer l are flattened from their
    ``(n_{l-1}, n_l)`` array in C order (``w{l}_{i}_{j}`` runs over i fastest),
    then come the biases of layers 1..L. The loop keeps its live parameters,
    and rules their changes, as views of one ``(K, n_params)`` array in this
    order, so saving, restoring or adding them is one numpy call.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_metabp.rules import ParamLayout
    >>> layout = ParamLayout([2, 1, 1])
    >>> layout.n_weights, layout.n_params
    (3, 5)
    >>> coefs, intercepts = layout.views(np.arange(5.0)[None])
    >>> coefs[0].shape, intercepts[1].tolist()
    ((1, 2, 1), [[4.0]])
    >>> layout.fan_in().tolist()  # w1 (2 links in), w2, then the biases
    [2.0, 2.0, 1.0, 2.0, 1.0]
    """

    def __init__(self, sizes):
        self.sizes = [int(s) for s in sizes]
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.n_weights = sum(a * b for a, b in pairs)
        self.n_biases = sum(self.sizes[1:])
        self.n_params = self.n_weights + self.n_biases

    @classmethod
    def of(cls, coefs):
        """The layout of stacked ``coefs`` (shapes ``(K, n_{l-1}, n_l)``)."""
        return cls([coefs[0].shape[1], *(w.shape[2] for w in coefs)])

    def views(self, flat):
        """Cut ``flat`` ``(K, n_params)`` into views shaped like coefs, intercepts."""
        K = flat.shape[0]
        coefs, intercepts, pos = [], [], 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            coefs.append(flat[:, pos : pos + a * b].reshape(K, a, b))
            pos += a * b
        for b in self.sizes[1:]:
            intercepts.append(flat[:, pos : pos + b])
            pos += b
        return coefs, intercepts

    def zeros(self, K, dtype=np.float64):
        """A zero ``(K, n_params)`` array and its views: flat, coefs, intercepts."""
        flat = np.zeros((K, self.n_params), dtype=dtype)
        return (flat, *self.views(flat))

    def fan_in(self):
        """Each parameter's fan-in, in the flat order: the number of links into
        the neuron it feeds (``n_{l-1}`` for layer l's weights and biases)."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        return np.concatenate(
            [np.full(a * b, float(a)) for a, b in pairs]
            + [np.full(b, float(a)) for a, b in pairs]
        )

    def flatten(self, coefs, intercepts, out=None):
        """Stacked coefs and intercepts as one ``(K, n_params)`` array."""
        K = coefs[0].shape[0]
        parts = [c.reshape(K, -1) for c in coefs] + list(intercepts)
        return np.concatenate(parts, axis=1, out=out)

    def base_of(self, coefs, intercepts):
        """The ``(K, n_params)`` float array that ``coefs`` and ``intercepts``
        are views of in this order, or None if there is none."""
        base = coefs[0].base
        if base is None or base.ndim != 2 or base.shape[1] != self.n_params:
            return None
        if base.dtype.kind != "f":
            return None
        got = [*coefs, *intercepts]
        expected = [v for vs in self.views(base) for v in vs]
        if len(got) != len(expected):
            return None
        for a, e in zip(got, expected):
            if a.base is not base or a.__array_interface__ != e.__array_interface__:
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
    dtype = np.result_type(X, *coefs)
    for l, w in enumerate(coefs):
        if ins[l] is None:
            ins[l] = np.empty((*shape, w.shape[-1]), dtype=dtype)
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
    ``err = ev - y``, ``epoch`` and ``step`` (0-based), ``index``, the row of
    the training data each network sees, shape ``(K, B)``, ``weight``, the
    patterns' sample weights ``(K, B, 1)`` (None without), which scale the
    output deltas, and ``key``, which
    names the set of buffers this update's arrays live in: within one
    training run two updates with the same key have the same arrays (``acts``,
    ``ins``, ``ev``, ``err``, ``index``), so views of them made once serve
    every later update with that key. ``fprime`` and
    ``deltas`` (rules 5 and 6) are computed on first use and cached until
    :meth:`invalidate`; ``deltas[l - 1]`` belongs to layer l. The arrays are
    buffers the loop reuses: copy what must outlive the update.
    """

    def __init__(
        self,
        coefs,
        intercepts,
        hidden_activation,
        output_activation,
        loss="squared_error",
    ):
        self.coefs = coefs
        self.intercepts = intercepts
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.loss = loss
        # with the log-loss the output deltas are the errors (no f' factor)
        self._log_loss = loss == "log_loss"
        #: patterns per epoch (set by the loop before the rule starts)
        self.n_samples = None
        self.ins = [None] * len(coefs)
        self.acts = [None] * (len(coefs) + 1)
        self.ev = self.err = self.index = self.weight = None
        self.epoch = self.step = self.key = 0
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

    @property
    def dtype(self):
        """The networks' precision: a rule's changes are best made in it."""
        return self.coefs[0].dtype

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
        # rule 5 at the outputs (the log-loss's delta is the error itself),
        # rule 6 backwards through the hidden layers
        if self._log_loss:
            np.copyto(deltas[-1], self.err)
        else:
            np.multiply(self.err, fprime[-1], deltas[-1])
        if self.weight is not None:  # a pattern's weight scales its step
            np.multiply(deltas[-1], self.weight, deltas[-1])
        for l in range(len(deltas) - 1, 0, -1):
            back = np.matmul(
                deltas[l], self.coefs[l].transpose(0, 2, 1), scratch[l - 1]
            )
            np.multiply(back, fprime[l - 1], deltas[l - 1])
        self._fresh = True

    def invalidate(self):
        """Forget the cached ``fprime`` and ``deltas`` (the state has changed)."""
        self._fresh = False


def _per_network(a, K):
    """View ``a`` (n, d) or (K, n, d) as (K, n, d)."""
    return np.broadcast_to(a, (K, *a.shape)) if a.ndim == 2 else a


class _Batches:
    """The loop's buffers, made once per call to :func:`train`.

    The live parameters are views of one ``(K, n_params)`` array (``params``):
    saving, checking and restoring them, and adding changes laid out the same
    way, are then one numpy call each, however many layers there are. Each
    epoch writes its pattern order into ``Xe``, ``Ye`` and its updates' errors
    into ``E``; each batch's views of them, and the forward buffers for its
    size, are made once, so the hot loop only unpacks tuples. A batch's
    position in the epoch is the key of its buffers (``Step.key``).
    """

    def __init__(
        self, coefs, intercepts, X, Y, batch_size, hidden, output, sample_weight=None
    ):
        K = coefs[0].shape[0]
        self.layout = ParamLayout.of(coefs)
        sizes = self.layout.sizes
        # the loop computes in the parameters' precision (float32 networks
        # train on float32 data, as scikit-learn's MLP does)
        dtype = self.dtype = coefs[0].dtype
        X = np.asarray(X).astype(dtype, copy=False)
        Y = np.asarray(Y).astype(dtype, copy=False)
        self.X, self.Y = _per_network(X, K), _per_network(Y, K)
        n = self.n = self.X.shape[1]
        batch_size = max(1, min(int(batch_size), n))
        self.params = np.empty((K, self.layout.n_params), dtype=dtype)
        self.coefs, self.intercepts = self.layout.views(self.params)
        for dst, src in zip([*self.coefs, *self.intercepts], [*coefs, *intercepts]):
            np.copyto(dst, src)
        # the parameters the current epoch started with: restored on divergence,
        # and the rule's end_epoch sees them
        self.saved = np.empty_like(self.params)
        self.biases = [b[:, None, :] for b in self.intercepts]
        self.funcs = _layer_functions(hidden, output, len(coefs), 0)
        self.Xe = np.empty((K, n, self.X.shape[2]), dtype=dtype)
        self.Ye = np.empty((K, n, self.Y.shape[2]), dtype=dtype)
        self.E = np.empty((K, n, self.Y.shape[2]), dtype=dtype)
        self.idx = np.broadcast_to(np.arange(n), (K, n)).copy()
        # per-pattern weights, (K, n, 1), reordered with the patterns
        self.W = self.We = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=dtype)
            self.W = _per_network(w.reshape(*w.shape, 1), K)
            self.We = np.empty((K, n, 1), dtype=dtype)
        by_size = {}
        self.batches = []
        for key, start in enumerate(range(0, n, batch_size)):
            s = slice(start, min(start + batch_size, n))
            B = s.stop - s.start
            if B not in by_size:
                ins = [np.empty((K, B, m), dtype=dtype) for m in sizes[1:]]
                by_size[B] = (ins, [None, *(np.empty_like(z) for z in ins)])
            views = (self.Xe[:, s], self.Ye[:, s], self.E[:, s], self.idx[:, s])
            wv = None if self.We is None else self.We[:, s]
            self.batches.append((*views, wv, *by_size[B], key))

    def order(self, shuffle, random_states):
        """Write this epoch's pattern order into ``Xe`` and ``Ye``."""
        if shuffle:
            for k, rng in enumerate(random_states):
                self.idx[k] = rng.permutation(self.n)
            self.Xe[...] = np.take_along_axis(self.X, self.idx[:, :, None], axis=1)
            self.Ye[...] = np.take_along_axis(self.Y, self.idx[:, :, None], axis=1)
            if self.W is not None:
                self.We[...] = np.take_along_axis(self.W, self.idx[:, :, None], axis=1)
        elif not hasattr(self, "_ordered"):
            self.Xe[...] = self.X
            self.Ye[...] = self.Y
            if self.W is not None:
                self.We[...] = self.W
            self._ordered = True


class _Epochs:
    """What the loop does once per epoch: the loss, divergence, stopping.

    ``active`` marks the networks still training and ``all_active`` spares the
    hot loop a mask while every network is.
    """

    def __init__(
        self, K, n, max_iter, tol, n_iter_no_change, verbose, loss, output_activation
    ):
        # Epoch-major loss curves: an epoch writes its row; per-network sums of
        # squared errors are one matmul, (K, 1, n * n_L) @ (K, n * n_L, 1).
        self.curves = np.full((max_iter, K), np.nan)
        self.sq = np.empty((K, 1, 1))
        self.half_mean = np.array(0.5 / n)
        self.n_iter = np.zeros(K, dtype=int)
        self.diverged = np.full(K, -1)
        self.converged = np.zeros(K, dtype=bool)
        self.active = np.ones(K, dtype=bool)
        self.all_active = True
        self.best = np.full(K, np.inf)
        self.no_improve = np.zeros(K, dtype=int)
        self.K, self.tol, self.patience = K, tol, n_iter_no_change
        self.verbose = verbose
        self.log_loss = loss == "log_loss"
        self.softmax = output_activation == "softmax"

    def keep(self):
        """The mask of networks to update: True while every network trains.

        A mask, not a product with 0, so that an infinite change from a rule
        leaves no NaN behind in a stopped network.
        """
        return True if self.all_active else self.active[:, None]

    def _stop(self, done):
        self.active &= ~done
        self.all_active = False

    def end(self, it, epoch, loop, rule, on_epoch=None):
        """Close epoch ``it``; returns True when no network is left training."""
        K, params, active = self.K, loop.params, self.active
        loss = self.curves[it]
        E = loop.E
        if loop.We is not None:
            self._weighted(loop.Ye, E, loop.We, loss)
        elif self.log_loss:
            self._cross_entropy(loop.Ye, E, loss)
        else:
            rows = E.reshape(K, -1)
            if rows.shape[1] <= 4096:
                # one tiny batched matmul: the cheapest call on the paper's nets
                sq = np.matmul(rows[:, None, :], rows[:, :, None], self.sq)
            else:
                # threaded BLAS spends milliseconds starting a long batched
                # dot product that einsum does in microseconds
                sq = np.einsum("kn,kn->k", rows, rows)
            np.multiply(sq.reshape(K), self.half_mean, loss)
        # A sum over every weight and loss is finite unless one of them is not
        # (or the sum overflows: the exact test then clears it).
        total = np.add.reduce(params, axis=None) + np.add.reduce(loss)
        all_finite = math.isfinite(total)
        restored = rule.end_epoch(epoch, params, loss, active, all_finite, loop.saved)
        if not all_finite:
            finite = np.isfinite(params).all(axis=1) & np.isfinite(loss)
            if restored is not None:
                finite |= restored
            newly = active & ~finite
            if newly.any():
                params[newly] = loop.saved[newly]
                self.diverged[newly] = epoch + 1
                self._stop(newly)
        if not self.all_active:
            loss[~active] = np.nan
        self.n_iter += active
        if self.verbose:
            print(f"Iteration {epoch + 1}, loss = {loss[0]:.8f}")
        if self.tol is not None:
            improved = loss < self.best - self.tol
            self.no_improve = np.where(improved, 0, self.no_improve + 1)
            self.best = np.minimum(self.best, loss)
            # as scikit-learn: stop after more than n_iter_no_change epochs
            done = active & (self.no_improve > self.patience)
            if done.any():
                # a rule may answer a plateau by lowering its step instead
                stop = rule.on_plateau(done)
                self.no_improve[done & ~stop] = 0
                done &= stop
            if done.any():
                self.converged |= done
                self._stop(done)
        if on_epoch is not None:
            stop = on_epoch(epoch, loop.coefs, loop.intercepts, loss)
            if stop is not None and (active & stop).any():
                self.converged |= active & stop
                self._stop(active & stop)
        return not self.all_active and not active.any()

    def _pattern_losses(self, Ye, E):
        """Each pattern's loss, (K, n): J (eq. 2) or the log-loss (y = ev - err)."""
        if not self.log_loss:
            return 0.5 * np.einsum("knm,knm->kn", E, E)
        eps = np.finfo(np.float64).eps
        y = np.clip(Ye - E, eps, 1.0 - eps)
        per = Ye * np.log(y)
        if not self.softmax:  # independent logistic outputs
            per += (1.0 - Ye) * np.log1p(-y)
        return -per.sum(axis=2)

    def _cross_entropy(self, Ye, E, loss):
        """The epoch's mean log-loss."""
        np.multiply(self._pattern_losses(Ye, E).sum(axis=1), 2.0 * self.half_mean, loss)

    def _weighted(self, Ye, E, We, loss):
        """The epoch's loss averaged with the patterns' sample weights."""
        w = We[:, :, 0]
        total = np.einsum("kn,kn->k", self._pattern_losses(Ye, E), w)
        np.divide(total, np.maximum(w.sum(axis=1), np.finfo(float).tiny), out=loss)

    def results(self):
        n_run = self.n_iter.max(initial=0)
        curves = np.ascontiguousarray(self.curves[:n_run].T)
        return curves, self.n_iter, self.diverged, self.converged


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
    loss="squared_error",
    on_epoch=None,
    sample_weight=None,
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
        Maps a :class:`Step` to weight and bias changes (see
        :mod:`sk_metabp.rules`).
    max_iter : int
        Epochs (training cycles: one pass over the patterns each).
    batch_size : int
        Patterns per update; 1 is online learning.
    shuffle : bool
        Draw a new pattern order each epoch (network k from ``random_states[k]``);
        otherwise the patterns go in the order given.
    callback : callable, optional
        ``callback(step, dcoefs, dintercepts)`` after the rule and before the
        change is applied; the recorder samples here.
    tol, n_iter_no_change : float or None, int
        With ``tol`` set, a network stops once its epoch loss has not fallen
        below its best by more than ``tol`` for more than ``n_iter_no_change``
        consecutive epochs (scikit-learn's rule; ``np.inf`` never stops).
    verbose : bool
        Print the loss after every epoch (network 0).
    epoch_offset : int
        Number of the first epoch, for warm starts.
    loss : {"squared_error", "log_loss"}
        The error the networks learn: eq. (2), or the log-loss (cross-entropy),
        whose output deltas are the errors ``ev - y``.
    sample_weight : ndarray of shape (n_samples,) or (K, n_samples), optional
        Each pattern's weight: it scales the pattern's output deltas, hence its
        change (as scikit-learn's SGD estimators scale a sample's step), and its
        share of the epoch's loss.
    on_epoch : callable, optional
        ``on_epoch(epoch, coefs, intercepts, loss)`` after each epoch's
        bookkeeping, with the live parameters; returns None or a boolean mask of
        networks to stop (early stopping on a validation set uses it).

    Returns
    -------
    loss_curves : ndarray of shape (K, n_epochs_run)
        The pattern error J averaged over the epoch's patterns, each measured
        before its own update; NaN after a network stopped.
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
    random_states = random_states or [None] * K
    loop = _Batches(
        coefs,
        intercepts,
        X,
        Y,
        batch_size,
        hidden_activation,
        output_activation,
        sample_weight,
    )
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {list(LOSSES)}.")
    epochs = _Epochs(
        K,
        loop.n,
        max_iter,
        tol,
        n_iter_no_change,
        verbose,
        loss,
        output_activation,
    )
    params, live_coefs, live_intercepts = loop.params, loop.coefs, loop.intercepts
    biases, funcs, layout = loop.biases, loop.funcs, loop.layout
    step = Step(live_coefs, live_intercepts, hidden_activation, output_activation, loss)
    step.n_samples = loop.n
    rule.start(step)
    seen = (None, None, None)  # the last changes returned, and their flat array
    total_step = 0
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for it in range(max_iter):
                epoch = epoch_offset + it
                loop.order(shuffle, random_states)
                np.copyto(loop.saved, params)
                keep = epochs.keep()
                all_active = epochs.all_active
                step.epoch = epoch
                # the per-update body, inline: its arrays are tiny, so every
                # Python call counts
                for xv, yv, err, iv, wv, ins, acts, key in loop.batches:
                    acts[0] = xv
                    _forward(live_coefs, biases, funcs, acts, ins)
                    np.subtract(yv, acts[-1], err)
                    step.ins = ins
                    step.acts = acts
                    step.ev = yv
                    step.err = err
                    step.index = iv
                    step.weight = wv
                    step.key = key
                    step.step = total_step
                    step.invalidate()
                    dcoefs, dintercepts = rule(step)
                    if callback is not None:
                        callback(step, dcoefs, dintercepts)
                    if dcoefs is not seen[0] or dintercepts is not seen[1]:
                        flat = layout.base_of(dcoefs, dintercepts)
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
                if epochs.end(it, epoch, loop, rule, on_epoch):
                    break
    finally:
        for dst, src in zip([*coefs, *intercepts], [*live_coefs, *live_intercepts]):
            np.copyto(dst, src)
    return epochs.results()


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
