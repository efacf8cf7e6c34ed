"""The paper's four experiments, their runner, the verdict and the report.

- :mod:`~sk_metabp.experiments.catalogue`: the experiments as data
  (:class:`Experiment`, :data:`EXPERIMENTS`);
- :mod:`~sk_metabp.experiments.verdict`: :func:`judge`, the rule that turns a
  repeated experiment's numbers into a verdict on the paper's claim;
- :mod:`~sk_metabp.experiments.runner`: :func:`run_experiments`, which fits the
  learners, trains the students over many seeds and judges them;
- :mod:`~sk_metabp.experiments.report`: the summary as a table and as markdown.
"""

from .catalogue import (
    EXPERIMENTS,
    PAPER_TIMES,
    Experiment,
    make_learner,
    resolve_experiments,
)
from .report import format_summary, summary_markdown, summary_table
from .runner import (
    DEFAULT_FITS,
    METHODS,
    Reproduction,
    headline_verdict,
    run_experiments,
)
from .verdict import (
    BETTER_FACTOR,
    COMPARABLE_FACTOR,
    EXPECTATIONS,
    SHARE_TOLERANCE,
    VERDICTS,
    Verdict,
    judge,
)

__all__ = [
    "BETTER_FACTOR",
    "COMPARABLE_FACTOR",
    "DEFAULT_FITS",
    "EXPECTATIONS",
    "EXPERIMENTS",
    "METHODS",
    "PAPER_TIMES",
    "SHARE_TOLERANCE",
    "VERDICTS",
    "Experiment",
    "Reproduction",
    "Verdict",
    "format_summary",
    "headline_verdict",
    "judge",
    "make_learner",
    "resolve_experiments",
    "run_experiments",
    "summary_markdown",
    "summary_table",
]
