"""Python API of the remedies: obtain the mitigated estimator of a strategy and write it as a new bundle version.

::

    import trustaudit
    est = trustaudit.mitigate("sample_models/adult-income-hgb", strategy="threshold-optimizer",
                              attribute="sex", constraint="demographic_parity")
    trustaudit.save_mitigated("sample_models/adult-income-hgb", est, "adult-income-hgb-dp")
    report = trustaudit.audit("adult-income-hgb-dp", checks=["fairness.model"],
                              trusted_types=trustaudit.MITIGATED_TYPES)

The remedy is fitted on the bundle's training data (never on the evaluation rows a re-audit measures), exactly as
the ``mitigation.fairness`` check does with ``fit_on: training``, so the re-audit reproduces its numbers.
See docs/mitigation.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from trustaudit.bundle import Bundle, load_bundle
from trustaudit.checks.mitigation import core
from trustaudit.checks.mitigation.estimators import GroupThresholdClassifier, rules_from_fairlearn
from trustaudit.checks.mitigation.pointer import remedy_pointer
from trustaudit.errors import BundleError

__all__ = ["MITIGATED_TYPES", "MITIGATION_STRATEGIES", "mitigate", "remedy_pointer", "save_mitigated"]

#: The skops type a saved threshold remedy adds to the bundle's model: trust it with ``--trust-type``.
MITIGATED_TYPES = ("trustaudit.checks.mitigation.estimators.GroupThresholdClassifier",)
MITIGATION_STRATEGIES = ("threshold-optimizer", "reject-option", "reweighing", "exponentiated-gradient")


def _groups(frame: Any, bundle: Bundle, attribute: str) -> np.ndarray:
    from trustaudit.bundle.loader import resolve_protected

    attr = resolve_protected(frame, {attribute: bundle.manifest.protected[attribute]})[attribute]
    return np.where(~attr.valid, "", np.where(attr.privileged, "privileged", "unprivileged"))


def mitigate(bundle: str | Path | Bundle, strategy: str = "threshold-optimizer", *, attribute: str | None = None,
             constraint: str = "demographic_parity", seed: int = 0, trusted_types: Collection[str] = (),
             allow_unsafe_pickle: bool = False, roc_thresholds: int = 20, roc_margins: int = 10,
             roc_bound: float = 0.05, eg_max_iter: int = 10, eg_difference_bound: float = 0.01) -> Any:
    """The mitigated estimator of ``strategy`` for protected ``attribute`` (default: the first declared),
    fitted on the bundle's training data.

    * ``threshold-optimizer`` / ``reject-option``: a :class:`GroupThresholdClassifier` (the bundle's model plus
      per-group thresholds from fairlearn's ThresholdOptimizer / aif360's RejectOptionClassification); it reads
      the protected attribute's column at prediction time;
    * ``reweighing``: a clone of the bundle's scikit-learn estimator refitted with aif360's reweighing weights
      (a plain scikit-learn object: its skops file needs no extra trusted type);
    * ``exponentiated-gradient``: fairlearn's fitted ``ExponentiatedGradient`` (a randomized mixture: it has no
      ``predict_proba``, so it cannot be saved as a bundle to re-audit).

    ``constraint``: demographic_parity, true_positive_rate_parity or equalized_odds. Raises
    :class:`~trustaudit.errors.BundleError` with a one-line reason when the bundle cannot support the strategy.
    """
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, allow_unsafe_pickle=allow_unsafe_pickle,
                                                              trusted_types=trusted_types)
    if strategy not in MITIGATION_STRATEGIES:
        raise BundleError(f"unknown strategy {strategy!r}; choose one of {', '.join(MITIGATION_STRATEGIES)}")
    if constraint not in core.ROC_METRIC:
        raise BundleError(f"unknown constraint {constraint!r}; choose one of {', '.join(core.ROC_METRIC)}")
    if not b.manifest.protected:
        raise BundleError("the manifest declares no protected attributes: nothing to mitigate")
    name = attribute or next(iter(b.manifest.protected))
    if name not in b.manifest.protected:
        raise BundleError(f"'{name}' is not a protected attribute of the bundle ({', '.join(b.manifest.protected)})")
    est = b.model.sklearn_estimator if b.model is not None else None
    if est is None:
        raise BundleError("mitigate needs the bundle's model as a scikit-learn estimator (skops, pickle or MLflow "
                          "sklearn flavour); for a predictions-only bundle use the mitigation.fairness check")
    tr = b.training_data
    if tr is None or b.spec.label not in tr.columns:
        raise BundleError("mitigate fits the remedy on the bundle's training data (never on the evaluation rows "
                          "a re-audit measures): declare training_data with the label column")
    from trustaudit.bundle.loader import encode_labels
    from trustaudit.context import AuditContext

    ctx = AuditContext(b, seed=seed)
    features = ctx.feature_columns
    missing = [c for c in [*features, name] if c not in tr.columns]
    if missing:
        raise BundleError(f"the training data lacks columns {', '.join(missing[:5])}")
    y = encode_labels(tr[b.spec.label], b.spec.favorable_label, "training label")
    groups = _groups(tr, b, name)
    if strategy in ("threshold-optimizer", "reject-option"):
        scores = ctx.predict_favorable_proba(tr[features])
        fit = core.FitData(scores, y, groups)
        if strategy == "threshold-optimizer":
            rules = rules_from_fairlearn(core.fit_threshold_optimizer(constraint, fit, seed))
        else:
            rules = core.fit_reject_option(constraint, fit, roc_thresholds, roc_margins, roc_bound)
        spec = b.manifest.protected[name].model_dump(mode="json", exclude_none=True)
        return GroupThresholdClassifier(estimator=est, features=list(features), attribute=name, spec=spec,
                                        rules=rules, favorable_index=ctx.favorable_index).fit()
    fit = core.FitData(None, y, groups, tr[features], tr[b.spec.label])
    if strategy == "reweighing":
        return core.refit_reweighed(est, fit)
    return core.fit_exponentiated_gradient(est, constraint, fit, eg_max_iter, eg_difference_bound)


def _copy_bundle(src: Path, dst: Path, skip: Path | None) -> None:
    """Copy a bundle directory except ``skip`` (the old model). Symbolic links are never followed: a link that
    stays inside the bundle is copied as a link, one that leads outside is refused (a received bundle must not
    smuggle, e.g., a credentials file into the mitigated bundle the user publishes)."""
    root = src.resolve()
    for p in src.rglob("*"):  # before anything is written (rglob does not follow linked folders)
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise BundleError(f"{p} is a link to {p.resolve()}, outside the bundle: remove it before saving a "
                              "mitigated copy")
    skip_abs = skip.resolve() if skip is not None else None

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if skip_abs is not None and (Path(folder) / n).resolve() == skip_abs}

    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True, ignore=ignore)


def save_mitigated(bundle: str | Path, estimator: Any, out: str | Path, *, version: str | None = None,
                   note: str | None = None) -> Path:
    """Write ``estimator`` as a new version of ``bundle`` in the new directory ``out``: the bundle's files copied,
    ``model.skops`` written with skops, and the manifest's model section, version and the model's lineage digest
    updated. Returns ``out``. Re-audit it with ``--trust-type`` for each of :data:`MITIGATED_TYPES` the model holds.
    """
    import hashlib

    import skops.io as sio

    from trustaudit import yamlsafe

    src, dst = Path(bundle), Path(out)
    if not (src / "trustaudit.yaml").is_file():
        raise BundleError(f"{src} is not a bundle directory (no trustaudit.yaml)")
    if dst.exists() and any(dst.iterdir()):
        raise BundleError(f"{dst} exists and is not empty; choose a new directory for the mitigated bundle")
    if not hasattr(estimator, "predict_proba"):
        raise BundleError(f"a {type(estimator).__name__} has no predict_proba: it cannot be audited as a model "
                          "(exponentiated-gradient is a randomized mixture; save threshold-optimizer, reject-option "
                          "or reweighing)")
    import yaml

    text = (src / "trustaudit.yaml").read_text(encoding="utf-8")
    manifest = yamlsafe.load(text, str(src / "trustaudit.yaml"))
    old_model = (manifest.get("model") or {}).get("path")
    _copy_bundle(src, dst, skip=src / old_model if old_model else None)
    model_path = dst / "model.skops"
    sio.dump(estimator, model_path)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    manifest["version"] = version or f"{manifest.get('version', '0')}+mitigated"
    what = note or f"mitigated with trustaudit: {type(estimator).__name__}"
    manifest["description"] = f"{manifest.get('description', '')} ({what})".strip()
    manifest["model"] = {"path": "model.skops", "format": "skops"}
    lineage = manifest.get("lineage")
    if isinstance(lineage, dict):
        files = lineage.get("files")
        if isinstance(files, dict):
            files.pop(old_model, None)
            files["model.skops"] = f"sha256:{digest}"
        training = lineage.get("training")
        if isinstance(training, dict):
            training["estimator"] = f"{type(estimator).__module__}.{type(estimator).__name__}"
    (dst / "trustaudit.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True),
                                         encoding="utf-8")
    return dst
