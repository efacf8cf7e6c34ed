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

import warnings

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning


def _tanh(x, out):
    return np.tanh(x, out=out)


def _identity(x, out):
    out[...] = x
    return out


def _logistic_deriv(y, out):
    # f'(in) from the output y = f(in): y (1 - y)
    np.subtract(1.0, y, out=out)
    return np.multiply(out, y, out=out)


def _tanh_deriv(y, out):
    np.multiply(y, y, out=out)
    return np.subtract(1.0, out, out=out)


def _identity_deriv(y, out):
    out.fill(1.0)
    return out


#: activation name -> (f(in, out), f'(in) written from the output y = f(in))
ACTIVATIONS = {
    "logistic": (expit, _logistic_deriv),
    "tanh": (_tanh, _tanh_deriv),
    "identity": (_identity, _identity_deriv),
}


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
        of layers 1..L into (the training loop preallocates them).

    Returns
    -------
    ins : list of ndarray
        Net inputs of layers 1..L, each ``(K, B, n_l)``.
    acts : list of ndarray
        Activations of layers 0..L; ``acts[0]`` is ``X`` itself.
    """
    if ins is None:
        ins = [None] * len(coefs)
        acts = [None] * len(coefs)
    out = [X]
    last = len(coefs) - 1
    for l, (w, b) in enumerate(zip(coefs, intercepts)):
        ins[l] = np.matmul(out[-1], w, out=ins[l])
        np.add(ins[l], b[:, None, :], out=ins[l])
        f = ACTIVATIONS[output_activation if l == last else hidden_activation][0]
        acts[l] = f(
            ins[l], out=acts[l] if acts[l] is not None else np.empty_like(ins[l])
        )
        out.append(acts[l])
    return ins, out


class Step:
    """What an update rule may see: the state of K networks at one update.

    The loop fills ``coefs``, ``intercepts`` (the live parameters, before the
    update), ``ins`` (net inputs of layers 1..L), ``acts`` (activations of layers
    0..L: inputs, hidden activations, outputs), ``ev`` (expected outputs),
    ``err = ev - y``, ``epoch`` and ``step`` (0-based), and ``index``, the row of
    the training data each network sees, shape ``(K, B)``. ``fprime`` and
    ``deltas`` (rules 5 and 6) are computed on first use and cached for the
    update; ``deltas[l - 1]`` belongs to layer l.
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
        self._fprime = self._deltas = None
        self._fresh = False

    @property
    def n_networks(self):
        return self.coefs[0].shape[0]

    @property
    def batch_size(self):
        return self.acts[0].shape[1]

    def _alloc(self):
        if self._fprime is None or self._fprime[0].shape != self.ins[0].shape:
            self._fprime = [np.empty_like(a) for a in self.ins]
            self._deltas = [np.empty_like(a) for a in self.ins]

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
        self._alloc()
        last = len(self.coefs) - 1
        for l in range(last + 1):
            act = self.output_activation if l == last else self.hidden_activation
            ACTIVATIONS[act][1](self.acts[l + 1], out=self._fprime[l])
        # rule 5 at the outputs, rule 6 backwards through the hidden layers
        np.multiply(self.err, self._fprime[last], out=self._deltas[last])
        for l in range(last, 0, -1):
            np.matmul(
                self._deltas[l],
                self.coefs[l].transpose(0, 2, 1),
                out=self._deltas[l - 1],
            )
            np.multiply(
                self._deltas[l - 1], self._fprime[l - 1], out=self._deltas[l - 1]
            )
        self._fresh = True

    def invalidate(self):
        self._fresh = False


class UpdateRule:
    """Base class of update rules: a state in, weight and bias changes out.

    Subclasses implement :meth:`__call__`, returning ``(dcoefs, dintercepts)``
    shaped like the parameters; the loop adds them to the parameters after the
    callback has seen them. :meth:`start` runs once before the first update.
    """

    def start(self, step):
        """Prepare buffers for the shapes of ``step``'s networks."""

    def __call__(self, step):
        raise NotImplementedError


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
        if self.velocity is None:
            self.dcoefs = [np.zeros_like(w) for w in step.coefs]
            self.dintercepts = [np.zeros_like(b) for b in step.intercepts]
            return
        dcoefs, dintercepts = self.velocity
        shapes = [a.shape for a in (*step.coefs, *step.intercepts)]
        if [a.shape for a in (*dcoefs, *dintercepts)] != shapes:
            raise ValueError("velocity does not match the shapes of the networks.")
        self.dcoefs = [np.array(d, dtype=float) for d in dcoefs]
        self.dintercepts = [np.array(d, dtype=float) for d in dintercepts]

    def __call__(self, step):
        deltas = step.deltas()
        acts = step.acts
        rate = self.learning_rate / step.batch_size
        m = self.momentum
        for l, (dw, db) in enumerate(zip(self.dcoefs, self.dintercepts)):
            if m:
                dw *= m
                db *= m
                dw += rate * np.matmul(acts[l].transpose(0, 2, 1), deltas[l])
                db += rate * np.add.reduce(deltas[l], axis=1)
            else:
                np.matmul(acts[l].transpose(0, 2, 1), deltas[l], out=dw)
                dw *= rate
                # np.add.reduce skips np.sum's Python wrapper: this is the hot loop
                np.add.reduce(deltas[l], axis=1, out=db)
                db *= rate
        return self.dcoefs, self.dintercepts


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
        Parameters of K networks, changed in place.
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
    random_states = random_states or [None] * K
    X = _per_network(X, K)
    Y = _per_network(Y, K)
    n = X.shape[1]
    batch_size = max(1, min(int(batch_size), n))
    step = Step(coefs, intercepts, hidden_activation, output_activation)

    # Each epoch writes its pattern order into Xe, Ye; the per-batch views of them
    # are made once, so the hot loop only indexes lists.
    Xe = np.empty((K, n, X.shape[2]))
    Ye = np.empty((K, n, Y.shape[2]))
    idx = np.broadcast_to(np.arange(n), (K, n)).copy()
    starts = range(0, n, batch_size)
    slices = [slice(s, min(s + batch_size, n)) for s in starts]
    xviews = [Xe[:, s] for s in slices]
    yviews = [Ye[:, s] for s in slices]
    iviews = [idx[:, s] for s in slices]
    ins_by_size = {}
    err_by_size = {}
    for xv in xviews:
        b = xv.shape[1]
        if b not in ins_by_size:
            ins_by_size[b] = (
                [np.empty((K, b, w.shape[2])) for w in coefs],
                [np.empty((K, b, w.shape[2])) for w in coefs],
            )
            err_by_size[b] = np.empty((K, b, Y.shape[2]))
    sq = np.zeros((K, batch_size, Y.shape[2]))

    loss_curves = np.full((K, max_iter), np.nan)
    n_iter = np.zeros(K, dtype=int)
    diverged = np.full(K, -1)
    converged = np.zeros(K, dtype=bool)
    active = np.ones(K, dtype=bool)
    best = np.full(K, np.inf)
    no_improve = np.zeros(K, dtype=int)
    rule.start(step)
    if not shuffle:
        Xe[...] = X
        Ye[...] = Y
    total_step = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for it in range(max_iter):
            epoch = epoch_offset + it
            if shuffle:
                for k, rng in enumerate(random_states):
                    idx[k] = rng.permutation(n)
                Xe[...] = np.take_along_axis(X, idx[:, :, None], axis=1)
                Ye[...] = np.take_along_axis(Y, idx[:, :, None], axis=1)
            saved = ([w.copy() for w in coefs], [b.copy() for b in intercepts])
            sq.fill(0.0)
            # stopped networks keep their weights; a mask, not a product with 0,
            # so that an infinite change from a rule leaves no NaN behind
            keep = None if active.all() else active
            step.epoch = epoch
            for xv, yv, iv in zip(xviews, yviews, iviews):
                b = xv.shape[1]
                ins, acts = ins_by_size[b]
                err = err_by_size[b]
                forward(
                    coefs,
                    intercepts,
                    xv,
                    hidden_activation,
                    output_activation,
                    ins,
                    acts,
                )
                step.acts[0] = xv
                step.acts[1:] = acts
                step.ins[:] = ins
                step.ev = yv
                step.index = iv
                np.subtract(yv, acts[-1], out=err)
                step.err = err
                step.step = total_step
                step.invalidate()
                dcoefs, dintercepts = rule(step)
                if callback is not None:
                    callback(step, dcoefs, dintercepts)
                for w, bb, dw, db in zip(coefs, intercepts, dcoefs, dintercepts):
                    if keep is None:
                        w += dw
                        bb += db
                    else:
                        np.add(w, dw, out=w, where=keep[:, None, None])
                        np.add(bb, db, out=bb, where=keep[:, None])
                np.multiply(err, err, out=err)
                if b == batch_size:
                    sq += err
                else:
                    sq[:, :b] += err
                total_step += 1
            loss = 0.5 * sq.sum(axis=(1, 2)) / n
            finite = np.isfinite(loss)
            for w, bb in zip(coefs, intercepts):
                finite &= np.isfinite(w).all(axis=(1, 2)) & np.isfinite(bb).all(axis=1)
            newly = active & ~finite
            if newly.any():
                for w, bb, w0, b0 in zip(coefs, intercepts, *saved):
                    w[newly] = w0[newly]
                    bb[newly] = b0[newly]
                diverged[newly] = epoch + 1
                active &= ~newly
            loss_curves[active, it] = loss[active]
            n_iter[active] = it + 1
            if verbose:
                print(f"Iteration {epoch + 1}, loss = {loss[0]:.8f}")
            if tol is not None:
                improved = loss < best - tol
                no_improve = np.where(improved, 0, no_improve + 1)
                best = np.minimum(best, loss)
                done = active & (no_improve >= n_iter_no_change)
                converged |= done
                active &= ~done
            if not active.any():
                break
    return loss_curves[:, : n_iter.max(initial=0)], n_iter, diverged, converged


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
