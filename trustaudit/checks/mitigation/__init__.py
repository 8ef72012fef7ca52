"""Fairness remedies: the ``mitigation.fairness`` check (``check``), its computations (``core``), the estimators a
remedy produces (``estimators``) and the remedy pointer read by the gate and the renderers (``pointer``).
See docs/mitigation.md. Kept empty so that importing ``pointer`` does not import scikit-learn or fairlearn."""
