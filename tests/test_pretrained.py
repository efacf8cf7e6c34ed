"""The shipped pretrained rule: safe storage, loading, use without fitting."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sk_metabp
from sk_metabp import (
    BackpropMLPClassifier,
    BackpropMLPRegressor,
    LearnedRuleMLPClassifier,
    TrajectoryRecorder,
    pretrained,
)
from sk_metabp._modes import LINK_TARGETS
from sk_metabp.datasets import make_boolean, make_teacher_task
from sk_metabp.rules import AdamRule, BackpropRule, LearnedRule


def _small_learner(seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["w", "a_n", "delta_n"])
    Y = pd.DataFrame({"dw_n": X["a_n"] * X["delta_n"]})
    return BackpropMLPRegressor((5,), max_iter=3, random_state=0).fit(X, Y), X


MANIFEST = dict(variables=["w", "a_n", "delta_n"], target="scaled")


def _save(tmp_path, **extra):
    learner, X = _small_learner()
    other, _ = _small_learner(seed=1)
    info = pretrained.save(
        {1: learner, 32: other},
        tmp_path / "rule",
        learning_rate=None,
        **MANIFEST,
        **extra,
    )
    return learner, X, info, tmp_path / "rule"


def test_round_trip_is_exact(tmp_path):
    learner, X, info, folder = _save(tmp_path, tasks=[{"task": "and"}])
    again = pretrained.load(folder)
    assert type(again) is BackpropMLPRegressor
    assert again.get_params() == learner.get_params()
    for a, b in zip(
        [*learner.coefs_, *learner.intercepts_, learner.x_mean_, learner.y_scale_],
        [*again.coefs_, *again.intercepts_, again.x_mean_, again.y_scale_],
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(learner.predict(X), again.predict(X))
    np.testing.assert_array_equal(
        learner.make_predictor(len(X))(X.to_numpy()),
        again.make_predictor(len(X))(X.to_numpy()),
    )
    assert list(again.feature_names_in_) == list(X.columns)
    assert again.target_names_ == ["dw_n"] and again.loss_curve_ == learner.loss_curve_
    # the manifest is what was written, and holds no pickle
    assert pretrained.load_manifest(folder) == info
    with np.load(folder / "learner.npz", allow_pickle=False) as data:
        assert {"b1_coef_0", "b32_coef_0"} <= set(data.files)
    # the learner of the nearest batch size
    at_32 = pretrained.load(folder, batch_size=20)
    assert not np.array_equal(at_32.coefs_[0], learner.coefs_[0])
    assert pretrained.load(folder, batch_size=4).coefs_[0].shape == (3, 5)
    # each load is a copy: changing one leaves the next alone
    again.coefs_[0][:] = 0
    assert pretrained.load(folder).coefs_[0].any()


def test_manifest_content(tmp_path):
    _, _, info, _ = _save(tmp_path, tasks=[{"task": "and"}], recipe={"seed": 0})
    assert info["format"] == pretrained.FORMAT
    assert info["version"] == sk_metabp.__version__
    assert info["mode"] == "link" and info["target"] == "scaled"
    assert info["variables"] == MANIFEST["variables"]
    assert info["batch_sizes"] == [1, 32]
    assert info["tasks"] == [{"task": "and"}] and info["recipe"] == {"seed": 0}
    assert info["learners"]["1"]["params"]["hidden_layer_sizes"] == [5]
    assert info["learners"]["32"]["feature_names"] == ["w", "a_n", "delta_n"]
    assert len(info["sha256"]) == 64


def test_shipped_manifest_describes_the_shipped_rule():
    info = pretrained.load_manifest()
    assert info["variables"] == list(pretrained.VARIABLES)
    assert info["target"] == pretrained.TARGET
    assert info["batch_sizes"] == list(pretrained.BATCH_SIZES)
    assert info["version"] == sk_metabp.__version__
    for b in info["batch_sizes"]:
        learner = pretrained.load(batch_size=b)
        assert list(learner.feature_names_in_) == info["variables"]
        assert learner.target_names_ == [LINK_TARGETS[pretrained.TARGET][0]]
    # fitted on the library's synthetic tasks only, each at both batch sizes
    names = {t["task"] for t in info["tasks"]}
    assert {"and 2-1", "or 2-4", "xor 2-2", "squares 2-5-2"} <= names
    assert any(name.startswith("teacher net") for name in names)
    assert any(name.startswith("wide net") for name in names)
    assert info["recipe"]["name"] == pretrained.RECIPE
    assert {t["teacher"] for t in info["tasks"]} <= set(pretrained.TEACHERS)
    assert {t["batch_size"] for t in info["tasks"]} == set(info["batch_sizes"])
    # refined at batch 32 as pretrain refines by default
    record = info["refinement"]
    assert (record["seed"], record["trust_radius"]) == (
        pretrained.REFINE_SEED,
        pretrained.TRUST_RADIUS,
    )
    assert record["batch_size"] == pretrained.REFINEMENT["full"]["batch_size"]


def test_damaged_or_mismatched_files_give_clear_errors(tmp_path):
    _, _, info, folder = _save(tmp_path)
    # a changed byte in the arrays
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    raw = bytearray((bad / "learner.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (bad / "learner.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted or from another build"):
        pretrained.load(bad)
    # arrays of another learner under this manifest (checksum made to match)
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    wrong = json.loads((other / "manifest.json").read_text())
    wrong["learners"]["1"]["params"]["hidden_layer_sizes"] = [7]
    (other / "manifest.json").write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match="does not fit its manifest: b1_coef_0"):
        pretrained.load(other)
    # a manifest of another format, or not JSON
    (other / "manifest.json").write_text(json.dumps({**info, "format": 99}))
    with pytest.raises(ValueError, match="has format 99; this version"):
        pretrained.load(other)
    (other / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        pretrained.load(other)
    # a missing file says how to rebuild it
    (other / "learner.npz").unlink()
    with pytest.raises(FileNotFoundError, match="sk_metabp pretrain --out DIR"):
        pretrained.load(other)
    # only the library's regressor, fitted on named columns, is saved
    with pytest.raises(TypeError, match="fitted BackpropMLPRegressor"):
        pretrained.save(
            BackpropMLPRegressor(), tmp_path / "x", learning_rate=None, **MANIFEST
        )
    with pytest.raises(ValueError, match="manifest needs"):
        pretrained.save(_small_learner()[0], tmp_path / "x", **MANIFEST)
    unnamed = BackpropMLPRegressor((2,), max_iter=1).fit(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="feature and target names"):
        pretrained.save(unnamed, tmp_path / "x", learning_rate=None, **MANIFEST)


def _learned(rule):
    """The LearnedRule inside the guards that wrap it."""
    while not isinstance(rule, LearnedRule):
        rule = rule.rule
    return rule


@pytest.mark.parametrize("batch_size", [1, 32])
def test_learner_pretrained_fits_without_recording(batch_size, monkeypatch):
    def no_recording(*args, **kwargs):
        raise AssertionError("learner='pretrained' must not record a teacher")

    pretrained.load(batch_size=batch_size)  # built once, then cached
    monkeypatch.setattr(TrajectoryRecorder, "fit", no_recording)
    monkeypatch.setattr(BackpropMLPRegressor, "fit", no_recording)
    X, y = make_teacher_task(64, 5, 3, random_state=0)
    clf = LearnedRuleMLPClassifier(
        (6,), learner="pretrained", batch_size=batch_size, max_iter=3, random_state=0
    )
    clf.fit(X, y)
    monkeypatch.undo()
    assert clf.recorder_ is None and len(clf.loss_curve_) == 3
    assert clf.imitation_history_ is None
    assert np.isfinite(clf.loss_curve_).all()
    assert clf.mode_.target_names == [LINK_TARGETS[pretrained.TARGET][0]]
    assert clf.mode_.batch_size == batch_size
    # the pretrained rule computes in float32 unless asked otherwise; a
    # learner of one's own in float64 (its predict to the last bit)
    assert _learned(clf.update_rule()).dtype == np.float32
    # the same rule as the loaded learner, used by hand
    by_hand = LearnedRuleMLPClassifier(
        (6,),
        learner=FrozenEstimator(pretrained.load(batch_size=batch_size)),
        mode="link",
        variables=list(pretrained.VARIABLES),
        target=pretrained.TARGET,
        batch_size=batch_size,
        max_iter=3,
        random_state=0,
    )
    assert _learned(by_hand.fit_learner(X, y).update_rule()).dtype == np.float64
    by_hand.set_params(learner_dtype="float32").fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], by_hand.coefs_[0])
    exact = clf.set_params(learner_dtype="float64").fit(X, y)
    assert _learned(exact.update_rule()).dtype == np.float64


def test_learner_pretrained_refuses_other_modes_variables_targets():
    X, y = make_boolean("and")
    for kwargs, message in [
        (dict(mode="delta"), "is a link-mode rule"),
        (dict(mode="link", variables=["w", "a"]), "reads the variables"),
        (
            dict(mode="link", target="residual"),
            f"predicts target={pretrained.TARGET!r}",
        ),
        (dict(imitation="dagger"), "is used as it is"),
    ]:
        clf = LearnedRuleMLPClassifier((1,), learner="pretrained", **kwargs)
        with pytest.raises(ValueError, match=message):
            clf.fit(X, y)
    # the guard falls back to the teacher the rule imitated at its batch size
    # (the shipped rule's: Adam at a rate)
    info = pretrained.load_manifest()
    for batch_size in (1, 32):
        clf = LearnedRuleMLPClassifier(
            (1,),
            learner="pretrained",
            on_divergence="fallback",
            batch_size=batch_size,
            max_iter=5,
        ).fit(X, y)
        params = pretrained.imitated_teacher(info, batch_size)
        expected = BackpropMLPClassifier(**params).update_rule()
        fallback = clf.update_rule().fallback
        assert type(fallback) is type(expected)
        assert fallback.learning_rate == expected.learning_rate
    # a manifest with several teachers at a batch size names none; a plain
    # backprop teacher has a rate, Adam none
    mixed = {
        **info,
        "tasks": [{**info["tasks"][0], "teacher": "sgd 1"}, *info["tasks"]],
    }
    assert pretrained.imitated_teacher(mixed, 1) is None
    assert pretrained.imitated_rate(mixed, 1) is None
    one = {
        "batch_sizes": [1, 32],
        "tasks": [
            {"batch_size": 1, "teacher": "sgd 2"},
            {"batch_size": 32, "teacher": "adam 0.1"},
        ],
        "recipe": {
            "teachers": {k: pretrained.TEACHERS[k] for k in ("sgd 2", "adam 0.1")}
        },
    }
    assert pretrained.imitated_rate(one, 1) == 2.0
    assert pretrained.imitated_rate(one, 32) is None
    assert pretrained.imitated_teacher(one, 32) == pretrained.TEACHERS["adam 0.1"]


class _Exploding(BackpropMLPClassifier):
    """A teacher whose steps are NaN."""

    def update_rule(self):
        return BackpropRule(np.nan)


def test_best_teacher_picks_the_lowest_loss():
    X, y = make_boolean("or")
    teachers = [
        BackpropMLPClassifier((2,), learning_rate_init=rate, max_iter=30)
        for rate in (0.01, 1.0, 0.1)
    ]
    best, losses = pretrained.best_teacher(teachers, X, y, seeds=[0, 1])
    assert best == 1 and losses[1] < losses[2] < losses[0]
    # a teacher whose networks diverge (here a NaN rate) scores an infinite loss
    broken = _Exploding((2,), max_iter=30)
    best, losses = pretrained.best_teacher([broken, teachers[0]], X, y, seeds=[0])
    assert best == 1 and losses[0] == np.inf
    with pytest.raises(ValueError, match="at least one teacher"):
        pretrained.best_teacher([], X, y)


def test_pretrain_is_reproducible(tmp_path, capsys):
    few = ["sgd 1", "adam 0.01"]
    first = pretrained.pretrain(tmp_path / "a", budget="tiny", teachers=few)
    out = capsys.readouterr().out
    # 4 small tasks, 2 of the teacher family, 1 wide (the adam recipe's), at
    # two batch sizes
    assert "scored 1/14" in out and "recorded 14/14" in out and "saved to" in out
    second = pretrained.pretrain(
        tmp_path / "b", budget="tiny", teachers=few, verbose=False
    )
    assert capsys.readouterr().out == ""
    assert first["sha256"] == second["sha256"] and first["tasks"] == second["tasks"]
    third = pretrained.pretrain(
        tmp_path / "c", budget="tiny", teachers=few, random_state=1, verbose=False
    )
    assert third["sha256"] != first["sha256"]
    # one teacher per batch size, the best over the tasks by geometric mean
    for b in (1, 32):
        mine = [t for t in first["tasks"] if t["batch_size"] == b]
        assert len({t["teacher"] for t in mine}) == 1
        gmeans = {
            name: np.exp(np.mean([np.log(t["teacher_losses"][name]) for t in mine]))
            for name in few
        }
        assert mine[0]["teacher"] == min(gmeans, key=gmeans.get)
    # or each task's own best
    own = pretrained.pretrain(
        tmp_path / "e",
        budget="tiny",
        teachers=few,
        choice="task",
        refine_seed=None,
        verbose=False,
    )
    for t in own["tasks"]:
        assert t["teacher"] == min(t["teacher_losses"], key=t["teacher_losses"].get)
    learner = pretrained.load(tmp_path / "a")
    assert list(learner.feature_names_in_) == list(pretrained.VARIABLES)
    with pytest.raises(ValueError, match="Unknown teachers"):
        pretrained.pretrain(tmp_path / "d", budget="tiny", teachers=["sgd 9"])


def test_pretrain_refines_reproducibly_as_refine_does(tmp_path, capsys):
    # pretrain(refine_seed=S) refines the batch-32 learner it fitted; the same
    # weights come from refine() on that learner saved and loaded (what
    # bench_refine.py does), so a refined rule is rebuilt by one command
    from sk_metabp.__main__ import main

    few = ["sgd 1", "adam 0.01"]
    plain = pretrained.pretrain(
        tmp_path / "plain", budget="tiny", teachers=few, refine_seed=None
    )
    assert "refining" not in capsys.readouterr().out
    code = main(
        ["pretrain", "--out", str(tmp_path / "a"), "--budget", "tiny", "--teachers"]
        + few
        + ["--refine-seed", "3", "--trust-radius", "0.01"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "refining the learner for batch size 32" in out
    first = pretrained.load_manifest(tmp_path / "a")
    again = pretrained.pretrain(
        tmp_path / "b",
        budget="tiny",
        teachers=few,
        refine_seed=3,
        trust_radius=0.01,
        verbose=False,
    )
    assert again["sha256"] == first["sha256"] != plain["sha256"]
    record = first["refinement"]
    assert (record["seed"], record["trust_radius"]) == (3, 0.01)
    tiny = pretrained.REFINEMENT["tiny"]
    assert record["n_generations"] == tiny["n_generations"]
    assert record["search_tasks"] == "make_teacher_family(3, random_state=0)"
    assert set(record["validation"][0]) == set(tiny["validation_score"])
    assert "refinement" not in plain

    def weights(learner):
        return np.concatenate([w.ravel() for w in learner.coefs_ + learner.intercepts_])

    imitated = pretrained.load(tmp_path / "plain", batch_size=32)
    refined = pretrained.load(tmp_path / "a", batch_size=32)
    # the online learner is the imitated one; the batch-32 one moved, within
    # the trust radius of it
    np.testing.assert_array_equal(
        weights(pretrained.load(tmp_path / "a", batch_size=1)),
        weights(pretrained.load(tmp_path / "plain", batch_size=1)),
    )
    moved = np.linalg.norm(weights(refined) - weights(imitated))
    assert 0 < moved <= 0.01 * np.linalg.norm(weights(imitated)) * (1 + 1e-9)
    by_hand = pretrained.refine(
        imitated,
        variables=plain["variables"],
        target=plain["target"],
        baseline=pretrained.imitated_teacher(plain, 32),
        random_state=3,
        trust_radius=0.01,
        **tiny,
    )
    np.testing.assert_array_equal(weights(by_hand), weights(refined))
    with pytest.raises(ValueError, match="choice='suite' or refine_seed=None"):
        pretrained.pretrain(tmp_path / "c", budget="tiny", choice="task", refine_seed=0)
    # by default pretrain refines as the shipped rule was refined; --no-refine
    # keeps the imitated learners, and must be said with --choice task
    default = pretrained.pretrain(
        tmp_path / "d", budget="tiny", teachers=few, verbose=False
    )
    assert default["refinement"]["seed"] == pretrained.REFINE_SEED
    assert default["refinement"]["trust_radius"] == pretrained.TRUST_RADIUS
    command = ["pretrain", "--budget", "tiny", "--teachers", *few, "--out"]
    assert main([*command, str(tmp_path / "e"), "--no-refine"]) == 0
    assert pretrained.load_manifest(tmp_path / "e")["sha256"] == plain["sha256"]
    with pytest.raises(SystemExit):
        main([*command, str(tmp_path / "f"), "--choice", "task"])
    assert "add --no-refine" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_on_policy_rows_hold_the_teachers_change_at_the_students_states():
    # the shipped learner trains the students; every row's target is the
    # teacher's change there: Adam over the fan-in at rate 1, times the fan-in
    # (the shipped target): the row's own adam variable
    recipe = pretrained.RECIPES[pretrained.RECIPE]
    X, y = make_teacher_task(random_state=3)
    task = ("t", X, y, (8,))
    plan = pretrained.BUDGETS["tiny"]
    teacher = "adam/fan_in 1"
    F, T, names, _ = pretrained._record_task(task, 32, plan, 0, teacher, recipe)
    learner = pretrained.load(batch_size=32)
    G, U, _, _ = pretrained._record_task(
        task, 32, plan, 0, teacher, recipe, rollout=learner
    )
    assert G.shape == F.shape  # the teacher's sampling and seeds
    adam, fan_in = names.index("adam"), names.index("fan_in")
    assert recipe["target"] == "fan_in_scaled" and set(F[:, fan_in]) == {4.0, 8.0}
    np.testing.assert_allclose(U[:, 0], G[:, adam], atol=1e-12)
    np.testing.assert_allclose(T[:, 0], F[:, adam], atol=1e-12)
    # the same first state (one row per link of the 4-8-1 network), then the
    # student's own path
    links = (4 + 1) * 8 + (8 + 1) * 1
    np.testing.assert_array_equal(G[:links], F[:links])
    assert not np.allclose(G[links:], F[links:])


@pytest.mark.parametrize("batch_size", [1, 32])
def test_classifier_uses_a_saved_rule(tmp_path, batch_size):
    # the shipped rule through classifier() trains the network that
    # learner="pretrained" trains, to the last bit
    X, y = make_teacher_task(random_state=1)
    params = dict(batch_size=batch_size, max_iter=5, random_state=0)
    ours = pretrained.classifier((6,), **params).fit(X, y)
    shipped = LearnedRuleMLPClassifier((6,), learner="pretrained", **params).fit(X, y)
    for a, b in zip(ours.coefs_, shipped.coefs_):
        np.testing.assert_array_equal(a, b)
    # a rule written by save() (here the shipped one's learner for this batch
    # size under both keys) is read with its manifest's variables and target
    info = pretrained.load_manifest()
    learner = pretrained.load(batch_size=batch_size)
    pretrained.save(
        {1: learner, 32: learner},
        tmp_path / "rule",
        variables=info["variables"],
        target=info["target"],
        learning_rate=None,
    )
    saved = pretrained.classifier((6,), tmp_path / "rule", **params).fit(X, y)
    assert saved.get_params()["variables"] == info["variables"]
    for a, b in zip(saved.coefs_, shipped.coefs_):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError):
        pretrained.classifier((6,), tmp_path / "nothing")


def test_pretrain_rounds_refit_on_the_students_states(tmp_path, capsys):
    few = ["adam 0.01", "adam 0.1"]
    plain = pretrained.pretrain(tmp_path / "a", budget="tiny", teachers=few)
    assert "rollouts" not in capsys.readouterr().out
    rounds = pretrained.pretrain(tmp_path / "b", budget="tiny", teachers=few, rounds=2)
    out = capsys.readouterr().out
    assert "round 2 rollouts of" in out and out.count("fitting the learner") == 6
    assert rounds["recipe"]["rounds"] == 2 and plain["recipe"]["rounds"] == 0
    # the same teachers' rows first, then each round as many again (a
    # rollout that stopped early keeps fewer)
    for r, p in zip(rounds["tasks"], plain["tasks"]):
        for key in ("task", "rows", "teacher"):
            assert r[key] == p[key]
        assert p["rollout_rows"] == [] and len(r["rollout_rows"]) == 2
        assert all(0 < n <= r["rows"] for n in r["rollout_rows"])
    assert rounds["sha256"] != plain["sha256"]
    again = pretrained.pretrain(
        tmp_path / "c", budget="tiny", teachers=few, rounds=2, verbose=False
    )
    assert again["sha256"] == rounds["sha256"]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="rounds must be a non-negative"):
            pretrained.pretrain(tmp_path / "d", budget="tiny", rounds=bad)


@parametrize_with_checks(
    [
        LearnedRuleMLPClassifier(
            (4,), learner="pretrained", batch_size=32, max_iter=40, random_state=0
        )
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_pretrain_command_refuses_unknown_teachers(tmp_path, capsys):
    from sk_metabp.__main__ import main

    with pytest.raises(SystemExit):
        main(["pretrain", "--out", str(tmp_path), "--teachers", "sgd 9"])
    assert "invalid choice: 'sgd 9'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_pretrain_recipes(tmp_path, capsys):
    # the recipe sets what the rule reads, predicts and imitates; the rule
    # shipped before is rebuilt with --recipe sgd (no wide tasks)
    from sk_metabp.__main__ import main

    code = main(
        ["pretrain", "--out", str(tmp_path / "sgd"), "--recipe", "sgd"]
        + ["--budget", "tiny", "--teachers", "sgd 1", "sgd 2", "--rounds", "1"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "recorded 12/12" in out and "round 1 rollouts" in out
    info = pretrained.load_manifest(tmp_path / "sgd")
    recipe = pretrained.RECIPES["sgd"]
    assert info["recipe"]["name"] == "sgd" and info["target"] == recipe["target"]
    assert info["recipe"]["rounds"] == 1
    assert info["variables"] == list(recipe["variables"])
    assert not any(t["task"].startswith("wide") for t in info["tasks"])
    assert pretrained.imitated_rate(info, 32) in (1.0, 2.0)
    # the adam recipe: the adam variable, the raw change, Adam teachers
    adam = pretrained.pretrain(
        tmp_path / "adam", budget="tiny", recipe="adam", verbose=False
    )
    assert "adam" in adam["variables"] and adam["target"] == "change"
    assert {t["teacher"] for t in adam["tasks"]} <= set(
        pretrained.RECIPES["adam"]["teachers"]
    )
    assert any(t["task"].startswith("wide") for t in adam["tasks"])
    # the fan-in recipe reads fan_in and may imitate Adam over the fan-in; its
    # imitated teacher is a classifier's parameters like any other
    fan = pretrained.pretrain(
        tmp_path / "fan",
        budget="tiny",
        recipe="adam_fan_in",
        teachers=["adam/fan_in 1"],
        verbose=False,
    )
    assert fan["variables"][-2:] == ["adam", "fan_in"]
    params = pretrained.imitated_teacher(fan, 32)
    assert params == {"solver": "adam", "learning_rate_init": 1.0, "fan_in_power": 1.0}
    BackpropMLPClassifier((3,), max_iter=2, **params).fit(*make_boolean("xor"))
    # a guarded student of the rebuilt rule falls back to that teacher
    guarded = pretrained.classifier(
        (3,), tmp_path / "fan", batch_size=32, on_divergence="fallback", max_iter=2
    ).fit(*make_boolean("xor"))
    assert guarded.teacher.get_params()["fan_in_power"] == 1.0
    fallback = guarded.update_rule().fallback
    assert isinstance(fallback, AdamRule)
    assert (fallback.learning_rate, fallback.fan_in_power) == (1.0, 1.0)
    with pytest.raises(ValueError, match="Unknown recipe"):
        pretrained.pretrain(tmp_path / "x", budget="tiny", recipe="rmsprop")
    with pytest.raises(SystemExit):
        main(["pretrain", "--out", str(tmp_path / "y"), "--recipe", "rmsprop"])
    assert "invalid choice: 'rmsprop'" in capsys.readouterr().err


def test_pretrain_command_runs_on_a_dask_cluster(tmp_path, capsys):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    from sk_metabp.__main__ import main

    local = pretrained.pretrain(
        tmp_path / "local",
        budget="tiny",
        teachers=["sgd 1", "adam 0.01"],
        verbose=False,
    )
    with distributed.LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        before = cluster.scheduler.transition_counter
        code = main(
            [
                "pretrain",
                "--out",
                str(tmp_path / "dask"),
                "--budget",
                "tiny",
                "--teachers",
                "sgd 1",
                "adam 0.01",
                "--scheduler",
                cluster.scheduler_address,
            ]
        )
        ran = cluster.scheduler.transition_counter - before
    assert code == 0 and ran > 0  # the tasks went through the cluster
    out = capsys.readouterr().out
    assert "running on the dask cluster" in out and "recorded 14/14" in out
    # the same weights as a local build with the same seed
    assert pretrained.load_manifest(tmp_path / "dask")["sha256"] == local["sha256"]


def test_readme_example_runs():
    # the README's pretrained-rule block, as written
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [
        b
        for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
        if 'learner="pretrained"' in b
    ]
    assert len(blocks) == 1
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    clf = namespace["clf"]
    assert clf.recorder_ is None and np.isfinite(clf.loss_curve_).all()
    assert clf.score(namespace["X"], namespace["y"]) > 0.5


def test_the_rule_is_package_data():
    # a wheel and `pip install .` include the shipped rule's two files
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]["sk_metabp"]
    for name in ("learner.npz", "manifest.json"):
        assert f"pretrained_data/{name}" in data
        assert (pretrained.DEFAULT_DIR / name).is_file()


def test_shipped_rule_beats_its_teacher_on_the_typical_synthetic_task():
    # the refined batch-32 learner: on families of teacher-network tasks it was
    # neither fitted, refined nor judged on, the geometric mean of its task
    # ratios to the teacher it imitated is below 0.95 on at least 4 of 5
    # families (10 families measured: 0.58-0.92; the imitated rule, built with
    # `pretrain --no-refine`, has 0.985-0.994 on these five and fails it)
    from sk_metabp.datasets import make_teacher_family
    from sk_metabp.refine import loss_ratios

    info = pretrained.load_manifest()
    kwargs = dict(
        variables=info["variables"],
        target=info["target"],
        baseline=pretrained.imitated_teacher(info, 32),
        batch_size=32,
        n_epochs=100,
        n_students=10,
        student_loss="geometric_mean",
        random_state=0,
    )
    learner = pretrained.load(batch_size=32)
    typical = [
        np.exp(np.mean(np.log(loss_ratios(learner, family, **kwargs))))
        for family in (make_teacher_family(8, random_state=s) for s in range(101, 106))
    ]
    assert sum(g < 0.95 for g in typical) >= 4, typical
