"""The check protocol: what a plug-in check is and what it returns.

A check is a class with an ``id`` (``family.name``), a ``category``, a ``version``, a pydantic ``Params`` model
(frozen, with defaults) and a ``run(ctx, params)`` method that returns a :class:`CheckOutput`: measured metrics
with evidence. It does not judge: rubric conditions are applied by the engine afterwards. A check that cannot
run on a bundle raises :class:`trustaudit.errors.SkipCheck` with the reason (or declares it in ``requires``);
any other exception is recorded as status ``error`` and the audit goes on.

Checks are discovered through the ``trustaudit.checks`` entry-point group; the built-in checks are registered
there too (see pyproject.toml), so third-party checks are first-class::

    [project.entry-points."trustaudit.checks"]
    "mycompany.calibration" = "mypkg.checks:CalibrationCheck"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from trustaudit.results import Artifact, Metric, Table

if TYPE_CHECKING:
    from trustaudit.context import AuditContext

Requirement = Literal["model", "predictions", "scores", "protected", "training_data", "bundle_dir"]

#: The structured fields of a :class:`~trustaudit.results.Metric` that say what it was measured for; rubric
#: conditions select metrics by these (``where: {attribute: sex, budget: 0.1}``), never by formatted text.
SubjectField = Literal["attribute", "group", "reference", "budget", "class_label"]
SUBJECT_FIELDS: tuple[str, ...] = ("attribute", "group", "reference", "budget", "class_label")
ALL_TASKS: frozenset[str] = frozenset({"binary-classification", "multiclass-classification", "regression"})
Direction = Literal["higher_is_better", "lower_is_better", "closer_to_one", "closer_to_zero", "neutral"]


@dataclass(frozen=True)
class MetricSpec:
    """A metric a check declares it may emit: what rubric conditions can refer to.

    ``subject`` lists the structured fields the metric is reported for (one metric name, many subjects: one value
    per protected attribute, per group, per budget ...). The engine's conformance test asserts that every emitted
    metric is declared and sets no other structured field, and rubric loading refuses a condition on an
    undeclared metric or field.
    """

    name: str
    description: str
    direction: Direction = "neutral"
    unit: str | None = None
    subject: tuple[SubjectField, ...] = ()


class CheckParams(BaseModel):
    """Base class of every check's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass
class CheckOutput:
    """What a check measured. The engine turns it into a :class:`CheckResult`."""

    metrics: list[Metric] = field(default_factory=list)
    summary: str = ""
    tables: list[Table] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Check:
    """Base class for checks. Subclasses set the class attributes and implement :meth:`run`."""

    id: ClassVar[str]
    category: ClassVar[str]
    title: ClassVar[str]
    version: ClassVar[str] = "1.0"
    description: ClassVar[str] = ""
    Params: ClassVar[type[CheckParams]] = CheckParams
    requires: ClassVar[frozenset[Requirement]] = frozenset()
    #: False for checks that are expensive or opt-in: they run only when named by the rubric or --checks.
    default_enabled: ClassVar[bool] = True
    #: Every metric the check may emit. A plug-in that declares none cannot have its rubric conditions checked
    #: at load time (a condition that matches nothing still fails at run time).
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    #: The manifest tasks the check applies to (``binary-classification``, ``multiclass-classification``,
    #: ``regression``); on any other task it is skipped as "not applicable". None (the default): every task for
    #: a check that needs none of model, predictions, scores or protected groups (it reads files or data only),
    #: else binary-classification only, the task every check was written for before the others existed.
    tasks: ClassVar[frozenset[str] | None] = None

    @classmethod
    def metric_spec(cls, name: str) -> MetricSpec | None:
        return next((m for m in cls.metrics if m.name == name), None)

    @classmethod
    def supported_tasks(cls) -> frozenset[str]:
        """The tasks this check applies to (see :attr:`tasks`)."""
        if cls.tasks is not None:
            return cls.tasks
        if cls.requires & {"model", "predictions", "scores", "protected"}:
            return frozenset({"binary-classification"})
        return ALL_TASKS

    def run(self, ctx: AuditContext, params: Any) -> CheckOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def widened(self, ctx: AuditContext, params: Any) -> dict[str, Any] | None:
        """Parameters that run this check on a larger sample (ideally every row), or None when it cannot grow.

        The engine calls it when a condition's verdict lies so close to its bound that another seed could judge
        it differently (:func:`trustaudit.rubrics.seed_sensitive`), re-runs the check with these parameters and
        judges that result instead. A check whose sample is already every row returns None."""
        return None

    def skip_reason(self, ctx: AuditContext) -> str | None:
        """Why this check cannot run on this bundle, from its declared requirements (None: it can run)."""
        b = ctx.bundle
        task = str(b.manifest.task)
        if task not in self.supported_tasks():
            return f"not applicable to {task} (the check supports {', '.join(sorted(self.supported_tasks()))})"
        for req in sorted(self.requires):
            if req == "model" and b.model is None:
                return "the bundle has no model (predictions-only audit)"
            if req == "scores" and b.model is None and b.spec.score is None:
                return "neither a model nor a score column gives probabilities"
            if req == "protected" and not b.manifest.protected:
                return "the manifest declares no protected attributes"
            if req == "training_data" and b.training_data is None:
                return "the bundle declares no training data"
            if req == "bundle_dir" and b.root is None:
                return ("reads a bundle directory (trustaudit.yaml's lineage section, the files it digests, an "
                        "MLmodel, model card or BOM), which an in-memory audit has not: write one with "
                        "'trustaudit init MODEL DATA --out DIR' and audit DIR")
        return None


def import_aif360(*modules: str) -> Any:
    """Import aif360 submodules quietly and return the ``aif360`` package: aif360 logs optional-dependency
    notices and adds a root logging handler on import; logging is restored as it was."""
    import importlib
    import logging
    import warnings

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in modules:
                importlib.import_module(name)
    finally:
        logging.disable(previous)
        root.handlers[:] = handlers
        root.setLevel(level)
    return importlib.import_module("aif360")
