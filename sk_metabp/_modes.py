"""The variable catalogue and the three modes that turn network states into rows.

This module is the one place that names columns. Layers are numbered as in
:mod:`sk_metabp._mlp`: layer 0 is the input, layer ``L`` the output; a neuron is
``(layer, index)``, and a weight ``w{l}_{i}_{j}`` links neuron j of layer l - 1
into neuron i of layer l (the paper's ``w_ij``).

=========  =====================  ================================================
variable   columns                meaning
=========  =====================  ================================================
``w``      ``w{l}_{i}_{j}``       weight into neuron i of layer l from neuron j
``b``      ``b{l}_{i}``           bias theta of neuron i of layer l
``x``      ``x_{j}``              network input j
``h``      ``h{l}_{i}``           activation of hidden neuron i of layer l
``y``      ``y_{i}``              network output i
``ev``     ``ev_{i}``             expected value of output i
``J``      ``J``                  pattern error, eq. (2)
``in``     ``in{l}_{i}``          net input of neuron i of layer l, eq. (1)
``fp``     ``fp{l}_{i}``          f'(in) of neuron i of layer l
``delta``  ``delta{l}_{i}``       backprop's delta of neuron i of layer l (5, 6)
``dw``     ``dw{l}_{i}_{j}``      target: the change of ``w{l}_{i}_{j}``
``db``     ``db{l}_{i}``          target: the change of ``b{l}_{i}``
=========  =====================  ================================================

A mode maps the state of K networks at one update (a :class:`~sk_metabp._mlp.Step`)
to learner rows, shape ``(K, rows_per_update, n_features)``, and the learner's
predictions back to weight and bias changes:

- :class:`NetworkMode`, the paper's: one row per update holding the whole
  network; targets are every ``dw`` and ``db``. Tied to one topology.
- :class:`LinkMode`: one row per connection and per bias, with the link's local
  variables (:data:`LINK_VARIABLES`); the target is the link's change ``dw``.
  Every topology has the same columns. The learner stands in for rule (3); the
  delta it may see comes from rules (5) and (6). With a mini-batch the row
  holds the batch's statistics (:data:`LINK_BATCH`). Running averages
  (:data:`LINK_STATE`) carry state from update to update.
- :class:`DeltaMode`: one row per hidden neuron, its neighbourhood as features
  (:data:`DELTA_VARIABLES`) and its delta as the target: the learner stands in for
  rule (6); rules (3) and (5) stay analytic. With a mini-batch there is one row
  per hidden neuron and pattern (each pattern's own values), and rule (3)
  averages the batch's changes as backprop does.
- :class:`NetworkMode` holds one pattern: it takes only ``batch_size=1``.
"""

import re

import numpy as np

from ._mlp import ParamLayout
from .rules import BackpropRule

NETWORK_VARIABLES = ("w", "b", "x", "h", "y", "ev", "J", "in", "fp", "delta")

#: Presets of the paper's variable sets (``docs/equations.md``): experiments 1-3 sample
#: weights, biases, inputs, outputs and expected values; experiment 4 adds the
#: hidden activations.
PRESETS = {
    "paper": ("w", "b", "x", "y", "ev"),
    "paper+h": ("w", "b", "x", "h", "y", "ev"),
    "all": NETWORK_VARIABLES,
}

#: Link mode: one row per connection j -> i of layer l (or bias of i).
LINK_VARIABLES = {
    "w": "the link's weight (the bias itself on a bias row)",
    "a": "the activation it carries, x_j (1 on a bias row)",
    "in": "the receiving neuron's net input in_i",
    "fp": "the receiving neuron's f'(in_i)",
    "y": "the receiving neuron's output x_i = f(in_i)",
    "err": "the receiving neuron's error: ev_i - y_i at an output, "
    "sum_h delta_h w_hi in a hidden layer",
    "delta": "the receiving neuron's delta, rules (5) and (6)",
    "is_bias": "1 on a bias row, else 0",
    "is_output": "1 if the receiving neuron is an output, else 0",
    "depth": "l / L, the receiving layer's position",
    "fan_in": "n_{l-1}, the number of links into the receiving neuron",
    "a_n": "a over its layer's rms: a divided by the root-mean-square of the "
    "activations the links into layer l carry (layer l - 1's and the bias's 1)",
    "delta_n": "delta over its rms across the receiving layer",
    "err_n": "err over its rms across the receiving layer",
    "log_scale": "log s_l, the receiving layer's scale: the rms over the layer's "
    "links of g, backprop's change per unit rate (rms(delta) * rms(a) for one "
    "pattern)",
    "g": "backprop's change per unit rate, delta_i * a_j (the batch-mean "
    "gradient step)",
    "g_n": "g / s_l, g in units of its layer's scale",
}

#: Link mode's running averages, by the digit that ends their names: the
#: decay of each time scale (momentum's 0.9, and Adam's 0.999 for squares).
LINK_DECAYS = {"1": 0.9, "2": 0.99, "3": 0.999}


def _running_averages():
    out = {}
    for k, decay in LINK_DECAYS.items():
        rule = f"{decay} m + {1 - decay:.3g} x at every update, from 0 at the start"
        out[f"gm{k}"] = f"the running average m of g: m <- {rule}"
        out[f"gv{k}"] = f"the running average m of g ** 2: m <- {rule}"
        out[f"gm{k}_n"] = f"gm{k} / s_l"
        out[f"gv{k}_n"] = f"sqrt(gv{k}) / s_l"
    out["adam"] = (
        "Adam's direction: gm1 / (sqrt(gv3) + 1e-8) times Adam's bias correction "
        "sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t), t the updates so far (this one "
        "included): Adam at rate gamma changes the link by gamma * adam"
    )
    return out


#: The running averages each stateful variable reads: (decay digit, of the
#: squares?).
def _averages_read(var):
    if var == "adam":
        return [("1", False), ("3", True)]
    return [(var[2], var[1] == "v")]


#: Adam's epsilon in the ``adam`` variable (scikit-learn's default).
ADAM_EPSILON = 1e-8


#: Stateful link variables: per-link running averages of the gradient and of
#: its square over a training run's updates (what momentum and Adam keep), so
#: that a rule can express momentum and per-weight step sizes. Every update
#: of a run moves them, recorded or not; a run starts them from 0.
LINK_STATE = _running_averages()
LINK_VARIABLES.update(LINK_STATE)

#: Link mode with a mini-batch of B patterns per update: what each variable
#: holds. Every value is the same as for one pattern when B = 1.
LINK_BATCH = {
    "w": "the weight (or bias) during the update",
    "a, in, fp, y, delta": "the batch mean of the pattern values",
    "err": "the batch mean: ev_i - y_i at an output, sum_h delta_h w_hi (of "
    "the mean deltas) in a hidden layer",
    "a_n, delta_n, err_n": "the batch means over their rms across the layer",
    "g": "(1 / B) sum_b delta_i^b a_j^b, the batch mean of the product (not "
    "the product of the means): backprop's batch-mean change per unit rate",
    "log_scale, g_n": "s_l is the rms of g over the layer's links",
    "gm*, gv*": "running averages of the batch-mean g (and of its square) "
    "over the updates",
    "adam": "Adam's direction from those averages: Adam's change for the batch "
    "per unit rate",
    "is_bias, is_output, depth, fan_in": "constants of the link",
    "targets": "dw is the teacher's change for the whole batch (backprop's: "
    "the batch-mean change); dw_r subtracts rate * g",
}

#: Link mode: what the target column holds, and its name. ``s_l`` is the
#: receiving layer's scale (see ``log_scale``), ``rate`` the mode's
#: learning rate, ``delta * a`` backprop's change per unit rate (rule 3).
LINK_TARGETS = {
    "change": ("dw", "the link's change dw"),
    "scaled": ("dw_n", "dw / s_l, the change in units of its layer's scale"),
    "fan_in_scaled": (
        "dw_f",
        "dw * fan_in, the change in units of 1 / fan_in (the number of links "
        "into the receiving neuron): a step of rate / fan_in is the same value "
        "on every layer",
    ),
    "residual": (
        "dw_r",
        "(dw - rate * delta * a) / s_l, the change beyond backprop's step, in "
        "units of its layer's scale: a learner predicting 0 is backprop",
    ),
    "residual_odd": (
        "dw_r",
        "as 'residual', but the change made is the part of the learner's "
        "prediction that is odd in the error (no change where the error is 0)",
    ),
}

#: Link variables that change sign with the network's errors (the others do
#: not): ``target="residual_odd"`` negates them.
SIGNED_LINK = ("delta", "err", "delta_n", "err_n")

#: Floor of the rms and scales that normalise link features and targets.
LINK_SCALE_FLOOR = 1e-12
#: Link mode's default variables: each quantity over its rms across the link's
#: layer and the layer's scale apart (``log_scale``), and ``g_n``, the batch-mean
#: gradient in those units. Rules on them carry across fan-ins, depths and batch
#: sizes (``benchmarks/bench_transfer.py``, ``benchmarks/bench_pretrained.py``);
#: rules on the raw values (``a``, ``delta``, ...) fit the task they were
#: recorded on only.
LINK_DEFAULT = (
    "w",
    "a_n",
    "delta_n",
    "err_n",
    "g_n",
    "log_scale",
    "is_bias",
    "is_output",
    "depth",
)
#: Link mode's default target: the change in units of its layer's scale, which
#: transfers with the default variables.
LINK_DEFAULT_TARGET = "scaled"

#: Delta mode: one row per hidden neuron i of layer l.
DELTA_VARIABLES = {
    "in": "its net input in_i",
    "fp": "its f'(in_i)",
    "h": "its activation",
    "back": "sum_h delta_h w_hi over the neurons h it feeds",
    "w_out": "sum_h |w_hi|, the size of its outgoing weights",
    "depth": "l / L, its layer's position",
    "fan_out": "n_{l+1}, the number of neurons it feeds",
}
DELTA_DEFAULT = ("in", "fp", "h", "back", "depth")


def _check_variables(variables, known, default, mode):
    if variables is None:
        return tuple(default)
    if isinstance(variables, str):
        if mode == "network" and variables in PRESETS:
            return PRESETS[variables]
        variables = (variables,)
    variables = tuple(variables)
    unknown = [v for v in variables if v not in known]
    if unknown or not variables:
        presets = f" or a preset {sorted(PRESETS)}" if mode == "network" else ""
        raise ValueError(
            f"Unknown variable(s) {unknown} for mode={mode!r}; choose from "
            f"{list(known)}{presets}."
        )
    if len(set(variables)) != len(variables):
        raise ValueError(f"variables has duplicates: {list(variables)}.")
    return variables


def topology(sizes):
    """``'2-1-1'`` for layer sizes ``[2, 1, 1]``."""
    return "-".join(str(s) for s in sizes)


def weight_names(sizes):
    """``w{l}_{i}_{j}`` of every weight, in :class:`~sk_metabp.rules.ParamLayout`
    order (i fastest)."""
    return [
        f"w{l}_{i}_{j}"
        for l in range(1, len(sizes))
        for j in range(sizes[l - 1])
        for i in range(sizes[l])
    ]


def bias_names(sizes):
    """``b{l}_{i}`` of every bias, in :class:`~sk_metabp.rules.ParamLayout` order."""
    return [f"b{l}_{i}" for l in range(1, len(sizes)) for i in range(sizes[l])]


def sizes_from_names(names):
    """Recover layer sizes from network-mode column names, or None."""
    found = {}
    for name in names:
        m = re.fullmatch(r"w(\d+)_(\d+)_(\d+)", str(name))
        if m:
            l, i, j = (int(g) for g in m.groups())
            found[l] = (
                max(found.get(l, (0, 0))[0], i + 1),
                max(found.get(l, (0, 0))[1], j + 1),
            )
    if not found or sorted(found) != list(range(1, len(found) + 1)):
        return None
    return [found[1][1]] + [found[l][0] for l in range(1, len(found) + 1)]


def _flat_coefs(step):
    K = step.n_networks
    return [c.reshape(K, -1) for c in step.coefs]


def _biases(step):
    return step.intercepts


def _inputs(step):
    return [step.acts[0][:, 0]]


def _hidden(step):
    return [a[:, 0] for a in step.acts[1:-1]]


def _outputs(step):
    return [step.acts[-1][:, 0]]


def _expected(step):
    return [step.ev[:, 0]]


def _pattern_error(step):
    return [0.5 * np.einsum("kbi,kbi->kb", step.err, step.err)]


def _net_inputs(step):
    return [a[:, 0] for a in step.ins]


def _fprimes(step):
    return [a[:, 0] for a in step.fprime()]


def _deltas(step):
    return [a[:, 0] for a in step.deltas()]


#: Network mode: variable -> the (K, n) arrays of a step that hold its columns
#: (looked up by name where a row is made: a mode holds no functions).
_NETWORK_PARTS = {
    "w": _flat_coefs,
    "b": _biases,
    "x": _inputs,
    "h": _hidden,
    "y": _outputs,
    "ev": _expected,
    "J": _pattern_error,
    "in": _net_inputs,
    "fp": _fprimes,
    "delta": _deltas,
}


#: Network variables whose parts are views of a step's arrays (the rest are
#: computed): a list of such parts made for one step holds the values of every
#: later step that has the same arrays.
_NETWORK_VIEWS = frozenset({"w", "b", "x", "h", "y", "ev", "in"})


class _Mode:
    name = None
    rows_per_update = 1
    #: Whether a learner's number of columns is enough to check it fits these
    #: rows: link and delta rows mean the same on every topology, but network
    #: rows of two topologies can have as many columns (1-4-1 and 1-2-2-1).
    count_checks_layout = True

    def __init__(self, sizes, variables=None, learning_rate=None, batch_size=1):
        self.sizes = list(sizes)
        self.layout = ParamLayout(sizes)
        self.learning_rate = learning_rate
        self.batch_size = int(batch_size)

    @property
    def n_features(self):
        return len(self.feature_names)

    @property
    def n_targets(self):
        return len(self.target_names)

    def describe(self):
        return (
            f"mode={self.name!r}, topology {topology(self.sizes)}, variables "
            f"{list(self.variables)} ({self.n_features} features, "
            f"{self.n_targets} targets)"
        )

    def arguments(self):
        """The arguments of :func:`make_mode` that build this mode again.

        Plain values (str, int, float and lists of them): what an estimator
        saves in place of a fitted mode (see :class:`ModeStateMixin`).
        """
        rate = self.learning_rate
        return {
            "mode": self.name,
            "sizes": [int(n) for n in self.sizes],
            "variables": list(self.variables),
            "learning_rate": None if rate is None else float(rate),
            "target": getattr(self, "target", "change"),
            "batch_size": self.batch_size,
        }

    def unit_names(self):
        """The name of each row of an update (a link, a neuron), or None when an
        update has one row holding the whole network."""
        return None

    def row_writer(self):
        """A function ``write(step, dcoefs, dintercepts, out)`` that writes one
        update's rows (:meth:`rows`); made once per recorded training run.

        A mode whose rows carry state from update to update (link mode's
        running averages) gives it an attribute ``observe(step)``, which the
        recorder calls at every update it does not write.
        """
        return self.rows

    def learned_state(self, step, rule):
        """Buffers for :meth:`learned_changes` during one training run."""
        K = step.n_networks
        shape = (K, self.rows_per_update, self.n_features)
        return {"rows": np.empty(shape, dtype=rule.dtype)}

    def learned_changes(self, step, rule, out, state):
        """Write the changes a learned rule makes at ``step`` into ``out``.

        ``rule`` is the :class:`~sk_metabp.rules.LearnedRule` (its ``predict``
        and ``predictor``), ``out`` the flat ``(K, n_params)`` change buffer,
        ``state`` what :meth:`learned_state` made.
        """
        predicted = rule.predict(self.features(step, out=state["rows"]))
        self.changes(step, predicted, out)

    def rows(self, step, dcoefs, dintercepts, out):
        """Write features and targets side by side into ``out``.

        ``out`` has shape ``(K, rows_per_update, n_features + n_targets)`` and
        any float dtype; this is what the recorder stores for one update.
        """
        n = self.n_features
        self.features(step, out=out[:, :, :n])
        self.targets(step, dcoefs, dintercepts, out=out[:, :, n:])
        return out


class ViewCache:
    """Row parts made once per set of the loop's buffers, then reused.

    The loop keeps one set of buffers per position in the epoch (the step's
    ``key``), so the views of them that make a row, built for one update,
    serve every later update with the same key in that training run. A cache
    lives for one run (a rule's ``start``, one recorded stack).
    """

    def __init__(self):
        self._parts = {}

    def get(self, key, make, *args):
        """The parts for ``key``, from ``make(*args)`` the first time."""
        parts = self._parts.get(key)
        if parts is None:
            parts = self._parts[key] = make(*args)
        return parts


class ModeStateMixin:
    """Saves an estimator's fitted modes as the arguments that rebuild them.

    A mode is derived from a few plain values (:meth:`_Mode.arguments`); an
    estimator's saved state (``pickle``, ``joblib``, ``skops.io``) holds those
    in place of the mode, which is built again on loading. A fitted estimator
    then loads with ``skops.io`` trusting no private type, and a saved file
    does not depend on the modes' internals.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        modes = {k: v.arguments() for k, v in state.items() if isinstance(v, _Mode)}
        if modes:
            state = {k: v for k, v in state.items() if k not in modes}
            state[_SAVED_MODES] = modes
        return state

    def __setstate__(self, state):
        state = dict(state)
        modes = state.pop(_SAVED_MODES, {})
        state.update({k: make_mode(**args) for k, args in modes.items()})
        super().__setstate__(state)

    def __copy__(self):
        # a shallow copy shares the modes, as every other attribute
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new


#: The key of :class:`ModeStateMixin`'s saved modes in an estimator's state.
_SAVED_MODES = "_modes_as_arguments"


class NetworkMode(_Mode):
    """The paper's mode: one row per update with the whole network's state."""

    name = "network"
    count_checks_layout = False

    def __init__(self, sizes, variables=None, learning_rate=None, batch_size=1):
        super().__init__(sizes, variables, learning_rate, batch_size)
        self.variables = _check_variables(
            variables, NETWORK_VARIABLES, PRESETS["paper"], "network"
        )
        L = len(sizes) - 1
        neurons = [(l, i) for l in range(1, L + 1) for i in range(sizes[l])]
        names = {
            "w": weight_names(sizes),
            "b": bias_names(sizes),
            "x": [f"x_{j}" for j in range(sizes[0])],
            "h": [f"h{l}_{i}" for l in range(1, L) for i in range(sizes[l])],
            "y": [f"y_{i}" for i in range(sizes[L])],
            "ev": [f"ev_{i}" for i in range(sizes[L])],
            "J": ["J"],
            "in": [f"in{l}_{i}" for l, i in neurons],
            "fp": [f"fp{l}_{i}" for l, i in neurons],
            "delta": [f"delta{l}_{i}" for l, i in neurons],
        }
        self.feature_names = [n for v in self.variables for n in names[v]]
        self.target_names = ["d" + n for n in names["w"] + names["b"]]

    def _parts(self, step):
        """The arrays whose concatenation is the row, shape (K, n) each."""
        parts = []
        for v in self.variables:
            parts += _NETWORK_PARTS[v](step)
        return parts

    def rows(self, step, dcoefs, dintercepts, out):
        """Features and targets side by side, in one copy: see ``_Mode.rows``."""
        K = step.n_networks
        parts = self._parts(step)
        parts += [d.reshape(K, -1) for d in dcoefs]
        parts += dintercepts
        np.concatenate(parts, axis=1, out=out[:, 0], casting="same_kind")
        return out

    @property
    def parts_are_views(self):
        """Whether every part of a row is a view of the step's arrays."""
        return _NETWORK_VIEWS.issuperset(self.variables)

    def row_writer(self):
        if not self.parts_are_views:
            return self.rows
        # Every part of the row is a view of the loop's arrays: parts made once
        # per buffer key (and set of changes) cost one concatenate per update.
        cache = ViewCache()

        def write(step, dcoefs, dintercepts, out):
            key = (step.key, id(dcoefs), id(dintercepts))
            parts = cache.get(key, self._kept_row_parts, step, dcoefs, dintercepts)
            np.concatenate(parts[0], axis=1, out=out[:, 0], casting="same_kind")

        return write

    def _kept_row_parts(self, step, dcoefs, dintercepts):
        # the change lists are kept with their parts, so no other list takes
        # their id while the cache lives
        return self.row_parts(step, dcoefs, dintercepts), dcoefs, dintercepts

    def learned_state(self, step, rule):
        state = super().learned_state(step, rule)
        # the row buffer viewed as (K, n_features) is the learner's input; its
        # (K, n_targets) output is laid out like the changes, so the predictor
        # writes it straight into the change buffer
        state["X"] = state["rows"].reshape(step.n_networks, self.n_features)
        state["cache"] = ViewCache() if self.parts_are_views else None
        state["predict"] = rule.predictor(step.n_networks)
        return state

    def learned_changes(self, step, rule, out, state):
        cache, X = state["cache"], state["X"]
        if cache is None:
            self.features(step, out=state["rows"])
        else:  # the row's parts are views made once per buffer key
            parts = cache.get(step.key, self._parts, step)
            np.concatenate(parts, axis=1, out=X, casting="same_kind")
        state["predict"](X, out)

    def row_parts(self, step, dcoefs, dintercepts):
        """The arrays whose concatenation is :meth:`rows`'s row, fewest possible.

        Weights and biases (adjacent in the row) that are views of one flat
        array in ParamLayout order, as the loop keeps its parameters and
        backprop its changes, come as that one array. With
        :attr:`parts_are_views`, the list made for one step gives the rows of
        every later step with the same arrays (the recorder keeps it).
        """
        params = self.layout.base_of(step.coefs, step.intercepts)
        parts, prev = [], None
        for v in self.variables:
            if params is None or v not in ("w", "b"):
                parts += _NETWORK_PARTS[v](step)
            elif v == "b" and prev == "w":
                parts[-1] = params  # weights then biases: the flat array itself
            else:
                cut = self.layout.n_weights
                parts.append(params[:, :cut] if v == "w" else params[:, cut:])
            prev = v
        changes = self.layout.base_of(dcoefs, dintercepts)
        if changes is not None:
            parts.append(changes)
        else:
            parts += [d.reshape(d.shape[0], -1) for d in dcoefs]
            parts += dintercepts
        return parts

    def features(self, step, out=None, parts=None):
        """The update's row for each network: shape ``(K, 1, n_features)``.

        With ``out`` (any float dtype) the row is written into it directly.
        ``parts``, what ``_parts`` returned for an earlier step with the same
        buffer key when :attr:`parts_are_views`, spares making them again.
        """
        if parts is None:
            parts = self._parts(step)
        if out is None:
            return np.concatenate(parts, axis=1)[:, None, :]
        np.concatenate(parts, axis=1, out=out[:, 0], casting="same_kind")
        return out

    def targets(self, step, dcoefs, dintercepts, out=None):
        """Every weight and bias change: shape ``(K, 1, n_targets)``."""
        if out is None:
            return self.layout.flatten(dcoefs, dintercepts)[:, None, :]
        self.layout.flatten(dcoefs, dintercepts, out=out[:, 0])
        return out

    def changes(self, step, predicted, out):
        """Write predictions ``(K, 1, n_targets)`` into the flat change buffer."""
        np.copyto(out, predicted[:, 0])


def _batch_mean(a, out):
    """(K, B, n) -> (K, n): the batch mean of ``a`` into ``out``; at B = 1 the
    pattern's own values (a view, so one pattern's values are kept exactly)."""
    if a.shape[1] == 1:
        return a[:, 0]
    return np.divide(np.add.reduce(a, axis=1, out=out), a.shape[1], out=out)


#: Link variables by how a row reads them: a per-link value, the sending
#: neuron's (a bias row carries 1), the receiving neuron's, the receiving
#: layer's, or a constant of the link.
_LINK_KIND = {
    "w": "link",
    "g": "link",
    "g_n": "link",
    "a": "send",
    "a_n": "send",
    "in": "recv",
    "fp": "recv",
    "y": "recv",
    "err": "recv",
    "delta": "recv",
    "delta_n": "recv",
    "err_n": "recv",
    "log_scale": "layer",
    "is_bias": "const",
    "is_output": "const",
    "depth": "const",
    "fan_in": "const",
    **{v: "link" for v in LINK_STATE},
}

#: The per-neuron quantity each sending or receiving variable reads, and
#: whether it is divided by that quantity's rms over the layer.
_LINK_QUANTITY = {
    "a": ("acts", False),
    "a_n": ("acts", True),
    "y": ("acts", False),
    "in": ("in", False),
    "fp": ("fp", False),
    "err": ("err", False),
    "delta": ("delta", False),
    "delta_n": ("delta", True),
    "err_n": ("err", True),
}


class _LinkColumns:
    """One training run's buffers for link rows, written in place at every update.

    The rows are kept feature-major: ``cols`` has shape ``(n_columns, K,
    n_params)``, one contiguous line per variable over the links in ParamLayout
    order (every weight, then every bias), and ``X``, its transpose viewed as
    ``(K * n_params, n_columns)`` (Fortran order, which BLAS reads as it is),
    is what the learner reads. Constant columns, and the column of ones a
    predictor may take for its bias, are written once.

    At each update :meth:`fill` writes the per-neuron quantities the variables
    need (batch means at B > 1) into ``vals``, block by block (a block is one
    layer's values of one quantity; the activations a layer's links carry end
    with the bias's 1), takes the root-mean-square of every block at once
    (squares, then one product with a fixed block-averaging matrix), and
    divides every value by its block's in one call (``vals_n``). ``vals``,
    ``vals_n`` and the layers' ``log s_l`` make one source vector per network;
    a fixed index gathers every per-neuron and per-layer column from it, in
    one ``take`` per run of adjacent columns. Per-link columns (``w``, ``g``,
    ``g_n``, the running averages) are one call each. Nothing is allocated
    per update.

    Running averages (:data:`LINK_STATE`) live here: a run's buffers start
    them at 0, and every :meth:`fill` moves them one update on.

    The layer scales ``s_l`` and each row's scale are kept for
    :meth:`LinkMode.changes` and :meth:`LinkMode.targets` of the same update.
    At B = 1 the values are the pattern's own; at B > 1 see
    :data:`LINK_BATCH`.
    """

    def __init__(self, mode, K, dtype=np.float64, ones=False):
        sizes, L = mode.sizes, len(mode.sizes) - 1
        layout = mode.layout
        R = layout.n_params
        self.mode, self.L = mode, L
        chosen = set(mode.variables)
        state = chosen & set(LINK_STATE)
        self.need_scales = (
            bool(chosen & {"log_scale", "g_n"})
            or any(v.endswith("_n") for v in state)
            or mode.target not in ("change", "fan_in_scaled")
        )
        self.read_g = bool(chosen & {"g", "g_n"} or state)
        # running averages: (average, decay, squares?) per one chosen
        self.averages = {}
        for v in sorted(state):
            for k, squares in _averages_read(v):
                self.averages.setdefault((k, squares), np.zeros((K, R)))
        self.state_scratch = np.empty((K, R))
        self.n_updates = 0  # t: the updates the averages have seen
        # the per-neuron quantities: acts of layers 0..L (0..L-1 unless "y" is
        # chosen), then in, fp, delta, err of layers 1..L, layer by layer
        read = {_LINK_QUANTITY[v][0] for v in chosen if v in _LINK_QUANTITY}
        if self.need_scales:
            read |= {"acts", "delta"}
        if "err" in read:  # the hidden layers' errors come from the deltas
            read.add("delta")
        self.quantities = [q for q in ("acts", "in", "fp", "delta", "err") if q in read]
        self.n_acts = L + 1 if "y" in chosen else L
        # the activations each layer's links carry end with the bias's 1
        blocks, pos = {}, 0  # (quantity, layer) -> (number, start, stop)
        for q in self.quantities:
            for l in range(self.n_acts) if q == "acts" else range(1, L + 1):
                n = sizes[l] + (q == "acts" and l < L)
                blocks[q, l] = (len(blocks), pos, pos + n)
                pos += n
        sends = [blocks["acts", l][2] - 1 for l in range(L)] if "acts" in read else []
        # one source vector per network: the values, the same over their
        # layer's rms (1 / rms of a layer's activations on its bias's 1: a_n
        # on a bias row), and log s_l; the gathered columns are copied from it
        V = pos
        self.src = np.empty((K, 2 * V + L))
        self.src[:, sends] = 1.0
        self.vals = self.src[:, :V]
        self.vals_n = self.src[:, V : 2 * V]
        self.log_scales = self.src[:, 2 * V :]
        self.parts = {  # the blocks the step's values go into, without the 1s
            q: [
                self.vals[:, a : a + sizes[l]]
                for (p, l), (_, a, b) in blocks.items()
                if p == q
            ]
            for q in self.quantities
        }
        # at B = 1, the parts of a concatenation that writes vals whole
        self.ones = np.ones((K, 1))
        # root-mean-squares of every block: the mean of its squares
        self.need_rms = self.need_scales or any(
            _LINK_QUANTITY[v][1] for v in chosen if v in _LINK_QUANTITY
        )
        self.squares = np.empty((K, V))
        self.rms = np.empty((K, len(blocks)))
        self.floored = np.empty_like(self.rms)
        # each value's block, to divide every value by its rms in one call
        self.value_block = np.repeat(
            np.arange(len(blocks)), [b - a for _, a, b in blocks.values()]
        )
        # the mean over each block, as one product: (K, V) @ (V, n_blocks)
        self.block_mean = np.zeros((pos, len(blocks)))
        self.block_mean[np.arange(pos), self.value_block] = 1.0
        self.block_mean /= self.block_mean.sum(axis=0)
        self.value_rms = np.empty((K, V))
        number = {k: v[0] for k, v in blocks.items()}
        # the layer scales, (K, L), and each row's (K, n_params)
        self.scales = np.empty((K, L))
        neurons = sizes[1:]
        self.row_layer = mode._row_layer
        self.row_scales = np.empty((K, R))
        if self.need_scales:
            # rms(delta) and rms of the sent activations, unfloored: (K, L) views
            d = number["delta", 1]
            self.delta_rms = self.rms[:, d : d + L]
            self.acts_rms = self.rms[:, number["acts", 0] : number["acts", 0] + L]
        # g: the batch mean of delta_i a_j on every link, and its layer sums
        self.g = np.empty((K, R))
        self.g_coefs, self.g_intercepts = layout.views(self.g)
        self.g_weights = self.g[:, : layout.n_weights]
        self.g_biases = self.g[:, layout.n_weights :]
        # at B > 1 a bias's g is its delta's batch mean, which the delta blocks
        # (adjacent, layers 1..L) already hold
        self.delta_means = None
        if "delta" in self.quantities:
            start = blocks["delta", 1][1]
            self.delta_means = self.vals[:, start : start + layout.n_biases]
        self.g_square = np.empty_like(self.g)
        # the mean over each layer's links, as one product: (K, R) @ (R, L)
        self.layer_mean = np.zeros((R, L))
        starts = np.cumsum([0] + [a * b for a, b in zip(sizes[:-1], neurons)])
        starts = np.concatenate([starts[:-1], starts[-1] + np.cumsum([0, *neurons])])
        g_count = np.array([a * b + b for a, b in zip(sizes[:-1], neurons)], float)
        self.layer_mean[np.arange(R), self.row_layer] = 1.0 / g_count[self.row_layer]
        self.hidden_errors = [np.empty((K, n)) for n in sizes[1:-1]]
        self.hidden_errors_needed = "err" in self.quantities and L > 1
        self.pattern_parts = None  # see _pattern_values
        self.batch_rows = {}
        self.params_of = self.params = None
        # the columns, feature-major; those read from the source vector are
        # gathered, a run of adjacent columns by one flat take
        n_cols = mode.n_features + bool(ones)
        self.cols = np.empty((n_cols, K, R), dtype=dtype)
        self.X = self.cols.reshape(n_cols, K * R).T
        self.src_cast = (
            None if dtype == np.float64 else np.empty_like(self.src, dtype=dtype)
        )
        if ones:
            self.cols[-1] = 1.0
        # each row's receiving layer l, sending neuron j (-1 on a bias) and
        # receiving neuron i
        layer, send, recv = (
            np.concatenate(parts)
            for parts in zip(
                *[
                    (
                        np.full(a * b, l + 1),
                        np.repeat(np.arange(a), b),
                        np.tile(np.arange(b), a),
                    )
                    for l, (a, b) in enumerate(zip(sizes[:-1], neurons))
                ],
                *[
                    (np.full(b, l + 1), np.full(b, -1), np.arange(b))
                    for l, b in enumerate(neurons)
                ],
            )
        )
        bias = send < 0
        S = self.src.shape[1]
        self.link_columns, gathered = [], {}
        for c, var in enumerate(mode.variables):
            kind, col = _LINK_KIND[var], self.cols[c]
            if kind == "link":
                self.link_columns.append((var, col))
            elif kind == "const":
                for l in range(1, L + 1):
                    for is_bias in (False, True):
                        at = (layer == l) & (bias == is_bias)
                        col[:, at] = _link_constant(var, l, L, sizes, is_bias)
            elif kind == "layer":  # log_scale
                gathered[c] = 2 * V + layer - 1
            else:
                q, norm = _LINK_QUANTITY[var]
                offset = V if norm else 0
                if kind == "send":  # a bias row reads the block's last value, 1
                    starts = np.array([blocks[q, l][1] for l in range(L)])
                    ends = np.array([blocks[q, l][2] for l in range(L)])
                    at = starts[layer - 1] + send
                    gathered[c] = offset + np.where(bias, ends[layer - 1] - 1, at)
                else:
                    starts = np.array([0] + [blocks[q, l][1] for l in range(1, L + 1)])
                    gathered[c] = offset + starts[layer] + recv
        # runs of adjacent gathered columns: (first, stop, flat index)
        self.gathers = []
        for c in sorted(gathered):
            if self.gathers and self.gathers[-1][1] == c:
                first = self.gathers[-1][0]
                self.gathers[-1] = (first, c + 1, None)
            else:
                self.gathers.append((c, c + 1, None))
        network = np.arange(K)[:, None] * S
        self.gathers = [
            (
                self.cols[a:b].reshape(-1),
                np.stack(
                    [network + np.asarray(gathered[c]) for c in range(a, b)]
                ).reshape(-1),
            )
            for a, b, _ in self.gathers
        ]

    def fill(self, step):
        """Write this update's columns, scales and row scales."""
        B = step.acts[0].shape[1]
        deltas = step.deltas()
        vals = self.vals
        if not self.quantities:
            pass
        elif B == 1:  # every value is the pattern's own: one copy
            if self.hidden_errors_needed:
                self._hidden_errors(step, deltas)
            parts = self.pattern_parts
            if parts is None:
                parts = self.pattern_parts = self._pattern_values(step, deltas)
            # the pattern's own inputs and errors are views of other buffers
            # at every update
            if "acts" in self.parts:
                parts[0] = step.acts[0][:, 0]
            if "err" in self.parts:
                parts[-1] = step.err[:, 0]
            np.concatenate(parts, axis=1, out=vals)
        else:
            self._batch_means(step, deltas, B)
        if self.need_rms:
            rms = self.rms
            np.multiply(vals, vals, out=self.squares)
            np.matmul(self.squares, self.block_mean, out=rms)
            np.sqrt(rms, out=rms)
            np.maximum(rms, LINK_SCALE_FLOOR, out=self.floored)
            np.take(self.floored, self.value_block, 1, self.value_rms, "clip")
            np.divide(vals, self.value_rms, out=self.vals_n)
        if self.read_g or (self.need_scales and B > 1):
            self._gradient(step.acts, deltas, B)
        if self.need_scales:
            self._scales(B)
            np.log(self.scales, out=self.log_scales)
            np.take(self.scales, self.row_layer, 1, self.row_scales, "clip")
        if self.averages:
            self._average(B)
        for var, col in self.link_columns:
            if var == "w":
                np.copyto(col, self._params(step))
            elif var == "g":
                np.copyto(col, self.g)
            elif var == "g_n":
                np.divide(self.g, self.row_scales, out=col)
            elif var == "adam":
                self._adam(col)
            else:  # a running average: gm1, gv1_n, ...
                m = self.averages[var[2], var[1] == "v"]
                if not var.endswith("_n"):
                    np.copyto(col, m)
                elif var[1] == "m":
                    np.divide(m, self.row_scales, out=col)
                else:
                    np.sqrt(m, out=self.state_scratch)
                    np.divide(self.state_scratch, self.row_scales, out=col)
        src = self.src
        if self.src_cast is not None:
            src = self.src_cast
            np.copyto(src, self.src)
        src = src.reshape(-1)
        for out, index in self.gathers:
            np.take(src, index, out=out, mode="clip")

    def _adam(self, out):
        """Adam's bias-corrected direction from ``gm1`` and ``gv3`` (see
        :class:`~sk_metabp.rules.AdamRule`: the same arithmetic)."""
        t = self.n_updates
        m, v = self.averages["1", False], self.averages["3", True]
        scratch = self.state_scratch
        np.sqrt(v, out=scratch)
        np.add(scratch, ADAM_EPSILON, out=scratch)
        np.divide(m, scratch, out=out)
        b1, b2 = LINK_DECAYS["1"], LINK_DECAYS["3"]
        np.multiply(out, np.sqrt(1.0 - b2**t) / (1.0 - b1**t), out=out)

    def _average(self, B):
        """Move every running average one update on: m <- m + (1 - d)(x - m)."""
        self.n_updates += 1
        if any(squares for _, squares in self.averages):
            if B == 1 or not self.need_scales:  # (at B > 1 _scales squared g)
                np.multiply(self.g, self.g, out=self.g_square)
        scratch = self.state_scratch
        for (k, squares), m in self.averages.items():
            np.subtract(self.g_square if squares else self.g, m, out=scratch)
            np.multiply(scratch, 1.0 - LINK_DECAYS[k], out=scratch)
            np.add(m, scratch, out=m)

    def _layers(self, step, q, deltas):
        """The step's (K, B, n_l) arrays of quantity ``q`` (not err)."""
        if q == "acts":
            return step.acts[: self.n_acts]
        if q == "in":
            return step.ins
        if q == "fp":
            return step.fprime()
        return deltas

    def _pattern_values(self, step, deltas):
        """At B = 1: the (K, n_l) arrays whose concatenation is ``vals``: views
        of the loop's buffers, which a run keeps, but for the inputs (first)
        and the output errors (last), which :meth:`fill` renews."""
        parts, L = [], len(self.mode.sizes) - 1
        for q in self.quantities:
            if q == "err":  # the hidden layers' errors, then ev - y
                parts += [*self.hidden_errors, step.err[:, 0]]
            elif q == "acts":  # each sending layer's values, then the bias's 1
                for l, a in enumerate(self._layers(step, q, deltas)):
                    parts += [a[:, 0], self.ones] if l < L else [a[:, 0]]
            else:
                parts += [a[:, 0] for a in self._layers(step, q, deltas)]
        return parts

    def _hidden_errors(self, step, deltas):
        """At B = 1: sum_h delta_h w_hi of every hidden layer."""
        for d, w, out in zip(deltas[1:], step.coefs[1:], self.hidden_errors):
            np.matmul(d, w.transpose(0, 2, 1), out=out[:, None, :])

    def _batch_row(self, B, value):
        """A (1, 1, B) row of ``value``: a batch's weighted sum is one product."""
        row = self.batch_rows.get((B, value))
        if row is None:
            row = self.batch_rows[B, value] = np.full((1, 1, B), value)
        return row

    def _batch_means(self, step, deltas, B):
        """At B > 1: every quantity's batch means into their blocks of ``vals``;
        a hidden layer's error is of the mean deltas."""
        mean = self._batch_row(B, 1.0 / B)
        for q in self.quantities:
            if q == "err":  # the outputs' now, the hidden layers' below
                np.matmul(mean, step.err, out=self.parts[q][-1][:, None, :])
                continue
            for a, out in zip(self._layers(step, q, deltas), self.parts[q]):
                np.matmul(mean, a, out=out[:, None, :])
        if "err" in self.parts:
            errors, mean_d = self.parts["err"], self.parts["delta"]
            for d, w, out in zip(mean_d[1:], step.coefs[1:], errors):
                np.matmul(d[:, None, :], w.transpose(0, 2, 1), out=out[:, None, :])

    def _params(self, step):
        # the loop keeps the same parameter arrays for a whole run
        if step.coefs is not self.params_of:
            self.params_of = step.coefs
            self.params = self.mode.layout.base_of(step.coefs, step.intercepts)
        if self.params is None:
            return self.mode.layout.flatten(step.coefs, step.intercepts)
        return self.params

    def _gradient(self, acts, deltas, B):
        """g: the batch mean of ``delta_i a_j`` on every link (a = 1 on a bias).

        At B > 1 after :meth:`_batch_means`: the biases' g are the deltas'
        batch means, copied when the delta blocks hold them.
        """
        if B > 1 and self.delta_means is not None:
            for a, d, gw in zip(acts, deltas, self.g_coefs):
                np.matmul(a.transpose(0, 2, 1), d, out=gw)
            np.divide(self.g_weights, B, out=self.g_weights)
            np.copyto(self.g_biases, self.delta_means)
            return
        for a, d, gw, gb in zip(acts, deltas, self.g_coefs, self.g_intercepts):
            if B == 1:
                np.multiply(a.transpose(0, 2, 1), d, out=gw)
                np.copyto(gb, d[:, 0])
            else:  # the sums, divided by B below
                np.matmul(a.transpose(0, 2, 1), d, out=gw)
                np.matmul(self._batch_row(B, 1.0), d, out=gb[:, None, :])
        if B > 1:
            np.divide(self.g, B, out=self.g)

    def _scales(self, B):
        """``s_l``, the rms of g over layer l's links, floored."""
        if B == 1:
            # the rms of delta_i * a_j over the layer factorises
            np.multiply(self.delta_rms, self.acts_rms, out=self.scales)
        else:
            np.multiply(self.g, self.g, out=self.g_square)
            np.matmul(self.g_square, self.layer_mean, out=self.scales)
            np.sqrt(self.scales, out=self.scales)
        np.maximum(self.scales, LINK_SCALE_FLOOR, out=self.scales)

    def rows(self, out):
        """Copy the rows, row-major, into ``out`` (K, n_params, n_features)."""
        np.copyto(out, self.cols[: out.shape[2]].transpose(1, 2, 0))
        return out


def _link_constant(var, l, L, sizes, bias):
    """The value of constant link variable ``var`` on layer l's weight or bias."""
    if var == "is_bias":
        return float(bias)
    if var == "is_output":
        return float(l == L)
    if var == "depth":
        return l / L
    return float(sizes[l - 1])  # fan_in


class LinkMode(_Mode):
    """One row per connection and per bias; the same columns for any topology.

    Rows come in ParamLayout order (every weight, then every bias). A learned
    rule's rows are written in place, column by column, into buffers kept for
    the training run, and the learner reads them there (see
    :class:`_LinkColumns`): a constant column is written once, the per-neuron
    and per-layer ones are gathered from one small source vector per network
    by a fixed index, a per-link one is copied.

    One rule for every fan-in and depth. The raw variables (``w, a, delta,
    ...``) and backprop's changes shrink as layers widen and deepen, so a rule
    fitted on a 2-1-1 network sees values on another scale in a 30-4-1 one.
    The normalised variables divide each quantity by its root-mean-square over
    the link's layer in the current update (per network): ``a_n``, ``delta_n``
    and ``err_n`` have unit rms over every layer of every network, and
    ``log_scale`` carries the layer's magnitude ``s_l = rms(delta) * rms(a)``
    separately (the rms over its links of backprop's change per unit rate).
    ``target`` normalises the output the same way:

    - ``"change"``: the learner predicts ``dw`` itself;
    - ``"scaled"`` (the default, :data:`LINK_DEFAULT_TARGET`): it predicts
      ``dw / s_l``, and its prediction is multiplied by ``s_l`` (backprop's
      target is then ``rate * delta_n * a_n``, the same function on every
      layer);
    - ``"fan_in_scaled"``: it predicts ``dw * fan_in`` and its prediction is
      divided by the fan-in. Steps that shrink as ``1 / fan_in`` (Adam with
      ``fan_in_power=1``) are then targets of one size on every layer, so a
      learner standardising its targets does not fit the wide layers' small
      steps as noise around the narrow layers' large ones;
    - ``"residual"``: it predicts ``(dw - rate * delta * a) / s_l``, the change
      beyond backprop's own step at the mode's ``learning_rate``; the change
      made is ``rate * delta * a + s_l * prediction``. A learner predicting 0
      is exactly backprop, so a fresh or poorly fitted learner starts from
      backprop rather than from noise, and what it adds is bounded in units of
      the layer's own scale;
    - ``"residual_odd"``: the same target, but only the part of the
      prediction that is odd in the error is used: ``(f(x) - f(x~)) / 2``,
      where ``x~`` is the row with the signed columns (:data:`SIGNED_LINK`)
      negated, the row the network would give if every error had the other
      sign. Like backprop's own step, the change is then 0 where the error is
      0 and turns round with it, so the rule cannot move the weights one way
      while the patterns' errors cancel (on a plateau); a rule that may (an
      even part, such as growing every weight) can speed up small tasks and
      saturate a network on a larger one. It costs a second prediction per
      update.

    Scales and rms are floored at :data:`LINK_SCALE_FLOOR`.
    """

    name = "link"

    def __init__(
        self, sizes, variables=None, learning_rate=None, target=None, batch_size=1
    ):
        super().__init__(sizes, variables, learning_rate, batch_size)
        self.variables = _check_variables(
            variables, LINK_VARIABLES, LINK_DEFAULT, "link"
        )
        target = LINK_DEFAULT_TARGET if target is None else target
        if target not in LINK_TARGETS:
            raise ValueError(
                f"Unknown target {target!r} for mode='link'; choose one of "
                f"{list(LINK_TARGETS)}."
            )
        if target.startswith("residual") and learning_rate is None:
            raise ValueError(
                f"target={target!r} adds the learner's output to backprop's step, "
                "which needs the mode's learning_rate."
            )
        self.target = target
        #: the columns negated for the odd part of a prediction, or None
        self.odd_columns = None
        if target == "residual_odd":
            self.odd_columns = [
                c for c, v in enumerate(self.variables) if v in SIGNED_LINK
            ]
            if not self.odd_columns:
                raise ValueError(
                    "target='residual_odd' keeps the part of the prediction that "
                    "is odd in the error, which needs a variable that changes "
                    f"sign with it: one of {list(SIGNED_LINK)}; got "
                    f"{list(self.variables)}."
                )
        self.feature_names = list(self.variables)
        self.target_names = [LINK_TARGETS[target][0]]
        self.rows_per_update = self.layout.n_params
        #: each row's receiving layer, 0-based
        sizes = self.sizes
        self._row_layer = np.concatenate(
            [np.full(a * b, l) for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
            + [np.full(b, l) for l, b in enumerate(sizes[1:])]
        )
        #: each row's fan-in, the links into its receiving neuron (as ``fan_in``)
        self._row_fan_in = self.layout.fan_in()

    def describe(self):
        text = super().describe()
        if self.target != "change":
            text += f", target {self.target!r}"
        return text

    def source(self, step, dtype=np.float64, ones=False):
        """A :class:`_LinkColumns` for ``step``'s networks, filled for ``step``.

        One training run keeps one and calls its ``fill`` at every update;
        ``dtype`` is its columns', ``ones`` adds a last column of ones.
        """
        source = _LinkColumns(self, step.n_networks, dtype, ones)
        source.fill(step)
        return source

    def features(self, step, out=None, source=None):
        """Each link's row: shape ``(K, n_params, n_features)``.

        With ``out`` (any float dtype) the rows are written into it directly;
        ``source``, already filled for ``step``, spares computing it again.
        """
        if source is None:
            source = self.source(step)
        if out is None:
            out = np.empty((step.n_networks, self.rows_per_update, self.n_features))
        return source.rows(out)

    def unit_names(self):
        return weight_names(self.sizes) + bias_names(self.sizes)

    @property
    def stateful(self):
        """Whether a row reads running averages (:data:`LINK_STATE`), which
        every update of a training run moves."""
        return bool(set(self.variables) & set(LINK_STATE))

    def row_writer(self):
        # one source for the recorded run, filled at each sampled update (and,
        # with running averages, moved on at every other: see observe)
        sources = {}

        def source(step):
            K = step.n_networks
            if K not in sources:
                sources[K] = _LinkColumns(self, K)
            return sources[K]

        def write(step, dcoefs, dintercepts, out):
            columns = source(step)
            columns.fill(step)
            n = self.n_features
            self.features(step, out=out[:, :, :n], source=columns)
            self.targets(step, dcoefs, dintercepts, out=out[:, :, n:], source=columns)

        if self.stateful:
            write.observe = lambda step: source(step).fill(step)
        return write

    def learned_state(self, step, rule):
        K, R = step.n_networks, self.rows_per_update
        # the learner reads the columns in place (feature-major, which BLAS
        # takes as it is), with a column of ones for its bias if it wants one
        ones = rule.ones_column(K * R)
        state = {
            "source": _LinkColumns(self, K, rule.dtype, ones),
            "predict": rule.predictor(K * R),
            "backprop": self._backprop(step),
        }
        if self.odd_columns is not None:
            state["odd"] = np.empty((K * R, 1))
        return state

    def learned_changes(self, step, rule, out, state):
        source, predict = state["source"], state["predict"]
        source.fill(step)
        predicted = predict(source.X)
        if self.odd_columns is not None:
            # the odd part in the error: (f(x) - f(x~)) / 2
            odd = state["odd"]
            np.copyto(odd, predicted)
            for c in self.odd_columns:
                np.negative(source.cols[c], source.cols[c])
            odd -= predict(source.X)
            odd *= 0.5
            predicted = odd
        predicted = predicted.reshape(step.n_networks, self.rows_per_update, -1)
        self.changes(step, predicted, out, source=source, backprop=state["backprop"])

    def row_scales(self, step):
        """Each row's layer scale ``s_l``: shape ``(K, n_params)``."""
        return self.source(step).row_scales

    def _backprop(self, step):
        """Backprop at the mode's rate, started for ``step``'s networks, or None."""
        if not self.target.startswith("residual"):
            return None
        rule = BackpropRule(self.learning_rate)
        rule.start(step)
        return rule

    def backprop_changes(self, step, backprop=None):
        """Backprop's changes at the mode's rate, flat: shape ``(K, n_params)``.

        Computed by :class:`~sk_metabp.rules.BackpropRule` (the batch-mean
        change at B > 1), so the values are the same to the last bit.
        ``backprop`` is such a rule, started for ``step``'s networks.
        """
        if backprop is None:
            backprop = BackpropRule(self.learning_rate)
            backprop.start(step)
        backprop(step)
        return backprop.flat

    def targets(self, step, dcoefs, dintercepts, out=None, source=None):
        """Each link's target (``target``): shape ``(K, n_params, 1)``."""
        flat = self.layout.flatten(dcoefs, dintercepts)
        if self.target.startswith("residual"):
            flat -= self.backprop_changes(step)
        if self.target == "fan_in_scaled":
            flat *= self._row_fan_in
        elif self.target != "change":
            flat /= (source or self.source(step)).row_scales
        if out is None:
            return flat[:, :, None]
        out[:, :, 0] = flat
        return out

    def changes(self, step, predicted, out, source=None, backprop=None):
        """Write the changes the predictions ``(K, n_params, 1)`` stand for.

        ``source`` (filled for ``step``) and ``backprop`` (see
        :meth:`backprop_changes`) are a training run's, kept between updates.
        """
        if self.target == "change":
            np.copyto(out, predicted[:, :, 0])
            return
        if self.target == "fan_in_scaled":
            np.divide(predicted[:, :, 0], self._row_fan_in, out=out)
            return
        scales = (source or self.source(step)).row_scales
        np.multiply(predicted[:, :, 0], scales, out=out)
        if self.target.startswith("residual"):
            out += self.backprop_changes(step, backprop)


class DeltaMode(_Mode):
    """One row per hidden neuron, predicting its delta (rule 6).

    With ``batch_size`` B > 1 an update has one row per pattern and hidden
    neuron (``B * n_hidden`` rows, pattern by pattern within each layer), each
    with that pattern's values: the predicted deltas replace rule (6)'s per
    pattern, and rule (3) averages the batch's changes as backprop does.
    """

    name = "delta"

    def __init__(self, sizes, variables=None, learning_rate=None, batch_size=1):
        super().__init__(sizes, variables, learning_rate, batch_size)
        self.variables = _check_variables(
            variables, DELTA_VARIABLES, DELTA_DEFAULT, "delta"
        )
        self.feature_names = list(self.variables)
        self.target_names = ["delta"]
        self.rows_per_update = sum(sizes[1:-1]) * self.batch_size

    def _layer_features(self, step, l, deltas, K):
        """Rows of hidden layer l (1-based) given the deltas of layer l + 1.

        One row per pattern of the batch and neuron of the layer, pattern by
        pattern: shape ``(K, B * n_l, n_features)``.
        """
        L = len(self.sizes) - 1
        w_next = step.coefs[l]  # (K, n_l, n_{l+1}): from layer l into l + 1
        shape = step.ins[l - 1].shape  # (K, B, n_l)
        cols = []
        for var in self.variables:
            if var == "in":
                cols.append(step.ins[l - 1])
            elif var == "fp":
                cols.append(step.fprime()[l - 1])
            elif var == "h":
                cols.append(step.acts[l])
            elif var == "back":
                cols.append(np.matmul(deltas[l], w_next.transpose(0, 2, 1)))
            elif var == "w_out":
                cols.append(np.broadcast_to(np.abs(w_next).sum(axis=2)[:, None], shape))
            elif var == "depth":
                cols.append(np.full(shape, l / L))
            elif var == "fan_out":
                cols.append(np.full(shape, float(self.sizes[l + 1])))
        return np.stack(cols, axis=3).reshape(K, -1, len(cols))

    def features(self, step, out=None):
        """Every hidden neuron's rows: shape ``(K, B * n_hidden, n_features)``."""
        deltas = step.deltas()
        K = step.n_networks
        rows = [
            self._layer_features(step, l, deltas, K)
            for l in range(1, len(self.sizes) - 1)
        ]
        flat = (
            np.concatenate(rows, axis=1) if rows else np.empty((K, 0, self.n_features))
        )
        if out is None:
            return flat
        out[...] = flat
        return out

    def unit_names(self):
        s, B = self.sizes, self.batch_size
        return [
            f"h{l}_{i}"
            for l in range(1, len(s) - 1)
            for _ in range(B)
            for i in range(s[l])
        ]

    def learned_state(self, step, rule):
        # rules (5) and (3) stay analytic, at the mode's rate
        if self.learning_rate is None:
            raise ValueError(
                "mode='delta' steps the weights with rule (3) at the teacher's "
                "learning rate, and this mode has none: give the teacher a "
                "learning_rate_init."
            )
        backprop = BackpropRule(self.learning_rate)
        backprop.start(step)
        return {"backprop": backprop}

    def learned_changes(self, step, rule, out, state):
        self.predict_deltas(step, rule.predict)
        dcoefs, dintercepts = state["backprop"](step)
        self.layout.flatten(dcoefs, dintercepts, out=out)

    def predict_deltas(self, step, predict):
        """Put the learner's deltas in place of rule (6)'s, from the top layer down.

        ``predict`` maps rows ``(K, R, F)`` to ``(K, R, 1)``. The step's cached
        deltas are overwritten in place, so rule (3) then reads the predicted
        hidden deltas and rule (5)'s output deltas.
        """
        deltas = step.deltas()
        K = step.n_networks
        for l in range(len(self.sizes) - 2, 0, -1):
            rows = self._layer_features(step, l, deltas, K)
            d = deltas[l - 1]
            d[...] = predict(rows)[:, :, 0].reshape(d.shape)

    def targets(self, step, dcoefs, dintercepts, out=None):
        deltas = step.deltas()[:-1]
        K = step.n_networks
        flat = (
            np.concatenate([d.reshape(K, -1) for d in deltas], axis=1)
            if deltas
            else np.empty((K, 0))
        )
        if out is None:
            return flat[:, :, None]
        out[:, :, 0] = flat
        return out


MODES = {"network": NetworkMode, "link": LinkMode, "delta": DeltaMode}


def make_mode(
    mode, sizes, variables=None, learning_rate=None, target=None, batch_size=1
):
    """Build the mode called ``mode`` for networks of layer ``sizes``.

    ``target`` is link mode's (see :class:`LinkMode`; None is
    :data:`LINK_DEFAULT_TARGET`); the other modes take only ``"change"`` (or
    None). ``batch_size`` is the patterns per update the rows
    describe (see :data:`LINK_BATCH` and :class:`DeltaMode`); network mode's
    rows hold one pattern, so it takes only 1.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; choose one of {sorted(MODES)}.")
    if mode == "network" and batch_size != 1:
        raise ValueError(
            "mode='network' trains online: its rows hold one pattern's inputs "
            f"and outputs; got batch_size={batch_size}. Use batch_size=1, or "
            "mode='link' or mode='delta', whose rows describe a mini-batch."
        )
    if mode == "link":
        return LinkMode(
            sizes, variables, learning_rate, target=target, batch_size=batch_size
        )
    if target not in (None, "change"):
        raise ValueError(
            f"target={target!r} is for mode='link'; mode={mode!r} predicts "
            "its own targets (target='change')."
        )
    return MODES[mode](sizes, variables, learning_rate, batch_size)
