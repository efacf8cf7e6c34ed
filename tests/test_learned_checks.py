"""scikit-learn's API compliance checks for the learned-rule classifier."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_metabp import BackpropMLPRegressor, LearnedRuleMLPClassifier

# Tiny settings: one short teacher run and a small learner keep each of the
# ~60 checks fast; one instance per mode, link mode with the fallback guard, and
# delta mode with on-policy imitation.
ESTIMATORS = [
    LearnedRuleMLPClassifier(
        (4,),
        learner=BackpropMLPRegressor((16,), max_iter=20, random_state=0),
        mode=mode,
        n_teacher_runs=1,
        record_every=4,
        on_divergence=on_divergence,
        random_state=0,
        **{"max_iter": 40, **imitation},
    )
    for mode, on_divergence, imitation in [
        ("network", "warn", {}),
        ("link", "warn", {}),
        ("delta", "warn", {}),
        ("link", "fallback", {}),
        # on-policy imitation: one round of one rollout, 10 epochs
        (
            "delta",
            "warn",
            {
                "imitation": "dagger",
                "imitation_iter": 1,
                "n_rollouts": 1,
                "max_iter": 10,
            },
        ),
    ]
]


def expected_failed_checks(estimator):
    if estimator.mode == "network":
        return {
            "check_classifiers_train": (
                "A network-mode learner imitates the whole 2-4-3 network from "
                "one 40-epoch teacher run; on the check's 300-point blobs that "
                "student stays below the check's 0.83 training accuracy. The "
                "link and delta modes pass it; network mode's accuracy is "
                "measured on the paper's tasks in test_learned.py."
            )
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
