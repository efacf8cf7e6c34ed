"""The variable catalogue: parameter layout, column names and the three modes."""

import inspect
import pickle

import numpy as np
import pytest

from sk_metabp._mlp import init_params, train
from sk_metabp._modes import (
    DELTA_VARIABLES,
    LINK_VARIABLES,
    NETWORK_VARIABLES,
    PRESETS,
    DeltaMode,
    LinkMode,
    NetworkMode,
    ParamLayout,
    bias_names,
    make_mode,
    sizes_from_names,
    topology,
    weight_names,
)
from sk_metabp.rules import BackpropRule

SIZES = [[2, 1], [2, 1, 1], [3, 4, 2], [2, 3, 2, 2]]
ALL_VARIABLES = {
    "network": NETWORK_VARIABLES,
    "link": tuple(LINK_VARIABLES),
    "delta": tuple(DELTA_VARIABLES),
}


def _steps(sizes, n_steps=3, K=2, seed=0):
    """Snapshots of K backprop-trained networks at their first updates.

    Each snapshot calls ``inspect(step, dcoefs, dintercepts)`` inside the
    loop's callback, while the step is live.
    """
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(n_steps, sizes[0]))
    Y = rng.uniform(size=(n_steps, sizes[-1]))

    def run(inspect):
        coefs, intercepts = init_params(
            sizes, [np.random.RandomState(seed + k) for k in range(K)]
        )
        train(
            coefs,
            intercepts,
            X,
            Y,
            BackpropRule(0.5),
            max_iter=1,
            callback=inspect,
        )

    return run


def test_param_layout_names_views_and_flatten():
    sizes = [3, 4, 2]
    layout = ParamLayout(sizes)
    assert layout.n_weights == 3 * 4 + 4 * 2 and layout.n_biases == 6
    names = weight_names(sizes) + bias_names(sizes)
    assert len(set(names)) == layout.n_params == 26
    flat = np.random.RandomState(0).normal(size=(2, layout.n_params))
    coefs, intercepts = layout.views(flat)
    assert [c.shape for c in coefs] == [(2, 3, 4), (2, 4, 2)]
    assert all(np.shares_memory(a, flat) for a in [*coefs, *intercepts])
    for k in range(2):
        for l in (1, 2):
            for j in range(sizes[l - 1]):
                for i in range(sizes[l]):
                    col = names.index(f"w{l}_{i}_{j}")
                    assert coefs[l - 1][k, j, i] == flat[k, col]
            for i in range(sizes[l]):
                assert intercepts[l - 1][k, i] == flat[k, names.index(f"b{l}_{i}")]
    np.testing.assert_array_equal(layout.flatten(coefs, intercepts), flat)
    out = np.empty((2, layout.n_params), dtype=np.float32)
    layout.flatten(coefs, intercepts, out=out)
    np.testing.assert_array_equal(out, flat.astype(np.float32))


@pytest.mark.parametrize("sizes", SIZES)
def test_sizes_from_names_inverts_the_naming(sizes):
    mode = NetworkMode(sizes)
    assert sizes_from_names(mode.feature_names) == sizes
    assert sizes_from_names(mode.target_names) is None  # dw..., not w...
    assert sizes_from_names(LinkMode(sizes).feature_names) is None
    assert topology(sizes) == "-".join(map(str, sizes))


def test_variables_presets_and_errors():
    assert NetworkMode([2, 1, 1]).variables == PRESETS["paper"]
    assert NetworkMode([2, 1, 1], "paper+h").variables == PRESETS["paper+h"]
    assert NetworkMode([2, 5, 2], "paper+h").n_features == 38  # experiment 4
    assert NetworkMode([2, 1, 1], "w").feature_names == ["w1_0_0", "w1_0_1", "w2_0_0"]
    assert LinkMode([2, 1, 1], "w").feature_names == ["w"]
    with pytest.raises(ValueError, match=r"Unknown variable\(s\) \['paper'\].*link"):
        LinkMode([2, 1, 1], "paper")
    with pytest.raises(ValueError, match=r"\['z'\] for mode='delta'"):
        DeltaMode([2, 1, 1], ["h", "z"])
    with pytest.raises(ValueError, match="Unknown variable"):
        NetworkMode([2, 1, 1], [])
    with pytest.raises(ValueError, match="duplicates"):
        LinkMode([2, 1, 1], ["w", "a", "w"])
    with pytest.raises(ValueError, match=r"Unknown mode 'layer'; choose one of"):
        make_mode("layer", [2, 1, 1])


@pytest.mark.parametrize(
    "sizes, n_in, n_out",
    [([2, 1, 1], 9, 5), ([2, 1], 7, 3), ([2, 4, 1], 21, 17), ([2, 5, 2], 33, 27)],
)
def test_paper_preset_sizes(sizes, n_in, n_out):
    mode = NetworkMode(sizes)
    assert (mode.n_features, mode.n_targets) == (n_in, n_out)
    assert mode.rows_per_update == 1
    assert f"topology {topology(sizes)}" in mode.describe()
    assert f"{n_in} features, {n_out} targets" in mode.describe()


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("name", ["network", "link", "delta"])
@pytest.mark.parametrize("which", ["default", "all"])
def test_rows_written_into_out_agree(sizes, name, which):
    variables = None if which == "default" else ALL_VARIABLES[name]
    mode = make_mode(name, sizes, variables)
    R = {"network": 1, "link": ParamLayout(sizes).n_params}.get(name, sum(sizes[1:-1]))
    assert mode.rows_per_update == R
    seen = []

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        T = mode.targets(step, dcoefs, dintercepts)
        assert F.shape == (2, R, mode.n_features) and F.dtype == np.float64
        assert T.shape == (2, R, mode.n_targets)
        for dtype in (np.float64, np.float32):
            out = np.full((2, R, mode.n_features), np.nan, dtype=dtype)
            assert mode.features(step, out=out) is out
            np.testing.assert_array_equal(out, F.astype(dtype))
            out = np.full((2, R, mode.n_targets), np.nan, dtype=dtype)
            assert mode.targets(step, dcoefs, dintercepts, out=out) is out
            np.testing.assert_array_equal(out, T.astype(dtype))
            # the recorder's layout: features and targets side by side
            out = np.full((2, R, mode.n_features + mode.n_targets), np.nan, dtype)
            assert mode.rows(step, dcoefs, dintercepts, out) is out
            np.testing.assert_array_equal(out, np.concatenate([F, T], 2).astype(dtype))
        seen.append(F)

    _steps(sizes)(inspect)
    assert len(seen) == 3
    if R:  # the state moves from update to update
        assert not np.array_equal(seen[0], seen[1])


@pytest.mark.parametrize("name", ["network", "link"])
def test_changes_put_targets_back_as_the_flat_change(name):
    sizes = [3, 4, 2]
    # the raw change: a scaled target goes back through a division
    mode = make_mode(name, sizes, target="change")
    layout = ParamLayout(sizes)

    def inspect(step, dcoefs, dintercepts):
        flat = np.empty((2, layout.n_params))
        mode.changes(step, mode.targets(step, dcoefs, dintercepts), flat)
        np.testing.assert_array_equal(flat, layout.flatten(dcoefs, dintercepts))
        coefs, intercepts = layout.views(flat)
        for a, b in zip([*coefs, *intercepts], [*dcoefs, *dintercepts]):
            np.testing.assert_array_equal(a, b)

    _steps(sizes)(inspect)


def test_link_constant_columns_follow_the_unit():
    sizes = [2, 3, 2, 1]
    L = len(sizes) - 1
    const = ["is_bias", "is_output", "depth", "fan_in"]
    mode = LinkMode(sizes, const)
    names = mode.unit_names()

    def inspect(step, dcoefs, dintercepts):
        F = mode.features(step)
        for r, unit in enumerate(names):
            l = int(unit[1])
            expected = [unit[0] == "b", l == L, l / L, sizes[l - 1]]
            np.testing.assert_array_equal(F[:, r], np.tile(expected, (2, 1)))

    _steps(sizes, n_steps=1)(inspect)


@pytest.mark.parametrize("variables", [["a"], ["y"], ["err"], ["depth", "w"]])
def test_link_single_variables(variables):
    """Each variable alone gathers the same column as in the full set."""
    sizes = [2, 3, 2]
    full = LinkMode(sizes, tuple(LINK_VARIABLES))
    part = LinkMode(sizes, variables)
    cols = [full.feature_names.index(v) for v in variables]

    def inspect(step, dcoefs, dintercepts):
        np.testing.assert_array_equal(
            part.features(step), full.features(step)[:, :, cols]
        )

    _steps(sizes)(inspect)


def test_delta_mode_predict_deltas_replaces_rule_6_only():
    sizes = [2, 3, 2, 2]
    mode = DeltaMode(sizes, ["fp", "back"])
    seen = []

    def inspect(step, dcoefs, dintercepts):
        true = [d.copy() for d in step.deltas()]
        # a learner that knows rule (6) leaves every delta as backprop made it
        mode.predict_deltas(step, lambda rows: rows[:, :, :1] * rows[:, :, 1:])
        for a, b in zip(step.deltas(), true):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
        # a learner that answers 0 silences the hidden layers, not the outputs
        mode.predict_deltas(step, lambda rows: np.zeros((*rows.shape[:2], 1)))
        deltas = step.deltas()
        assert all((d == 0).all() for d in deltas[:-1])
        np.testing.assert_array_equal(deltas[-1], true[-1])
        assert np.abs(true[0]).max() > 0
        seen.append(1)

    _steps(sizes)(inspect)
    assert len(seen) == 3


@pytest.mark.parametrize(
    "variables", ["paper", "paper+h", ["b", "x", "w"], ["w"], ["b", "in"]]
)
def test_row_parts_concatenate_to_the_row(variables):
    sizes = [3, 4, 2]
    mode = NetworkMode(sizes, variables)
    layout = ParamLayout(sizes)
    assert mode.parts_are_views
    width = mode.n_features + mode.n_targets

    def inspect(step, dcoefs, dintercepts):
        expected = mode.rows(step, dcoefs, dintercepts, np.empty((2, 1, width)))
        # the loop's own arrays, and changes held as separate arrays
        for dc, di in [
            (dcoefs, dintercepts),
            ([d.copy() for d in dcoefs], [d.copy() for d in dintercepts]),
        ]:
            parts = mode.row_parts(step, dc, di)
            np.testing.assert_array_equal(np.concatenate(parts, axis=1), expected[:, 0])
        # parameters and changes that are views of one flat array each come as
        # that array (or its weight and bias halves)
        flat = np.random.RandomState(1).normal(size=(2, layout.n_params))
        changes = flat * 1e-3
        step.coefs, step.intercepts = layout.views(flat)
        parts = mode.row_parts(step, *layout.views(changes))
        assert parts[-1] is changes
        if mode.variables[:2] == ("w", "b"):
            assert parts[0] is flat
        row = np.concatenate(parts, axis=1)
        np.testing.assert_array_equal(row[:, -layout.n_params :], changes)
        np.testing.assert_array_equal(
            row, mode.rows(step, *layout.views(changes), np.empty((2, 1, width)))[:, 0]
        )
        raise StopIteration  # the step's parameters were replaced: stop here

    with pytest.raises(StopIteration):
        _steps(sizes)(inspect)


@pytest.mark.parametrize(
    "name, variables, target, batch_size",
    [
        ("network", None, "change", 1),
        ("network", "all", "change", 1),
        ("link", ["w", "a_n", "delta_n", "log_scale"], "residual_odd", 4),
        ("delta", None, "change", 3),
    ],
)
def test_a_mode_is_built_again_from_its_plain_arguments(
    name, variables, target, batch_size
):
    mode = make_mode(
        name, [3, 4, 2], variables, np.float64(0.23), target, np.int64(batch_size)
    )
    args = mode.arguments()
    # every argument of make_mode, so none is lost on saving (see ModeStateMixin)
    assert list(args) == list(inspect.signature(make_mode).parameters)
    assert all(type(v) in (str, int, float, list) for v in args.values())
    assert args["batch_size"] == batch_size
    again = make_mode(**args)
    assert type(again) is type(mode) and again.describe() == mode.describe()
    assert again.learning_rate == 0.23 and again.feature_names == mode.feature_names
    # a pickled mode holds names only, no functions of this module
    saved = pickle.dumps(mode)
    assert b"_flat_coefs" not in saved and b"_deltas" not in saved


def test_delta_mode_without_a_rate_says_what_to_do():
    from sk_metabp import BackpropMLPClassifier, BackpropMLPRegressor
    from sk_metabp.datasets import make_boolean
    from sk_metabp.rules import LearnedRule

    X, y = make_boolean("and")
    clf = BackpropMLPClassifier((2,), max_iter=2)
    data = clf.training_data(X, y)
    mode = DeltaMode(data.sizes)  # no learning_rate
    learner = BackpropMLPRegressor((2,), max_iter=1, random_state=0).fit(
        np.zeros((4, mode.n_features)), np.zeros(4)
    )
    with pytest.raises(ValueError, match="give the teacher a learning_rate_init"):
        clf.train_students(data, [0], rule=LearnedRule(mode, learner))
