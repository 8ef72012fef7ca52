"""Explainability checks on SHAP.

* ``explainability.shap``: global importance (mean |SHAP| per original feature, BCa bootstrap intervals,
  ranking), fidelity (additivity error), stability of the ranking across two independent halves of the sample,
  SVG plots.
* ``explainability.protected_reliance``: share of attribution on each protected attribute, directly and through
  its proxies, and attribution by group.

shap and matplotlib are imported only when a check runs.
"""

from trustaudit.checks.explainability.checks import ProtectedRelianceCheck, ShapCheck

__all__ = ["ProtectedRelianceCheck", "ShapCheck"]
