"""Lineage and provenance checks (registered through the ``trustaudit.checks`` entry points).

- ``lineage.integrity``: declared digests match the files
- ``lineage.completeness``: provenance fields declared, scored against a documented list
- ``lineage.consistency``: manifest vs the model, MLmodel, model card and CycloneDX BOM
- ``lineage.leakage``: evaluation rows found in the training data
- ``lineage.skew``: training/evaluation columns, types, ranges and distributions
- ``lineage.reproducibility``: reload twice; refit a clone of a scikit-learn estimator

See docs/lineage.md.
"""

from trustaudit.checks.lineage.completeness import CompletenessCheck
from trustaudit.checks.lineage.consistency import ConsistencyCheck
from trustaudit.checks.lineage.data import LeakageCheck, SkewCheck
from trustaudit.checks.lineage.integrity import IntegrityCheck
from trustaudit.checks.lineage.reproducibility import ReproducibilityCheck

__all__ = [
    "CompletenessCheck",
    "ConsistencyCheck",
    "IntegrityCheck",
    "LeakageCheck",
    "ReproducibilityCheck",
    "SkewCheck",
]
