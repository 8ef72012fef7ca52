"""A synthetic AuditReport covering every check family the renderer knows and some it does not.

Built in Python (no audit run) so rendering tests are fast and cover: fairness group rates and comparisons with
conditions (fail / warn / pass), a robustness curve table, explainability importances with an SVG artefact
(containing a script and an external link that must be stripped), lineage digests, an openness class, an unknown
category (generic fallback), a skipped check, an errored check and a condition whose metric was not measured.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trustaudit.results import (
    Artifact,
    AuditReport,
    BundleIdentity,
    CheckResult,
    ConditionResult,
    FileDigest,
    Interval,
    Metric,
    RubricRef,
    Status,
    Table,
    ToolInfo,
)

INJECTION = "<script>alert('x')</script>{{ 7*7 }}{% raw %}"

EVIL_SVG = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="60"
     viewBox="0 0 200 60" onload="alert(1)">
  <script>alert('svg')</script>
  <style>@import url(https://example.com/evil.css);</style>
  <image xlink:href="https://example.com/tracker.png" width="1" height="1"/>
  <rect x="0" y="0" width="200" height="60" fill="#eef"/>
  <text x="10" y="35" font-size="14">importance plot</text>
</svg>
"""


def ci(lo: float, hi: float, method: str = "bootstrap-percentile (200)") -> Interval:
    return Interval(low=lo, high=hi, level=0.95, method=method)


def _spec(text: str, metric: str, severity: str) -> Any:
    """The structured condition a rubric would have stored for ``text`` (written out by the test, as a rubric
    author writes it: 'x >= 0.8', '|x| <= 0.1')."""
    from trustaudit.rubrics import Condition

    absolute = text.startswith("|")
    _, op, value = text.replace("|", "").split()
    return Condition(metric=metric, op=op, value=float(value), abs=absolute, severity=severity).spec()


def cond(text: str, metric: str, subject: str | None, status: Status, observed: float | None,
         interval: Interval | None = None, severity: str = "fail") -> ConditionResult:
    return ConditionResult(condition=text, metric=metric, subject=subject, severity=severity,  # type: ignore[arg-type]
                           status=status, observed=observed, ci=interval, judge="interval",
                           message=f"{metric}[{subject}] = {observed}", spec=_spec(text, metric, severity))


def fairness_check() -> CheckResult:
    groups = [("sex", "Male", 6123, (0.31234, 0.7012, 0.0912, 0.1432)),
              ("sex", "Female", 3011, (0.11877, 0.6291, 0.0207, 0.0811)),
              ("race", "White", 8000, (0.27011, 0.6833, 0.0741, 0.1304)),
              ("race", "not White", 1134, (0.15123, 0.5514, 0.0433, 0.0977)),
              ("race", "Other", 21, (0.09524, 0.5, 0.0, 0.0476))]
    metrics: list[Metric] = []
    for attr, g, n, (sr, tpr, fpr, err) in groups:
        judged = n >= 30
        note = None if judged else "group smaller than 30"
        metrics.append(Metric(name="group_size", value=float(n), n=n, subject=f"{attr}={g}", attribute=attr,
                              group=g, judged=judged, note=note))
        for name, v in (("selection_rate", sr), ("tpr", tpr), ("fpr", fpr), ("error_rate", err)):
            metrics.append(Metric(name=name, value=v, ci=ci(max(0.0, v - 0.0213), min(1.0, v + 0.0187)), n=n,
                                  subject=f"{attr}={g}", attribute=attr, group=g, judged=judged, note=note))
    comps = [("sex", "Female", "Male", 9134, 0.38025, -0.19357),
             ("race", "not White", "White", 9134, 0.55988, -0.11888),
             ("race", "Other", "White", 8021, 0.35261, -0.17487)]
    conds = []
    for attr, g, ref, n, di, spd in comps:
        subject = f"{attr}: {g} vs {ref}"
        di_ci, spd_ci = ci(di - 0.0412, di + 0.0398), ci(spd - 0.0121, spd + 0.0133)
        judged = g != "Other"
        metrics.append(Metric(name="disparate_impact", value=di, ci=di_ci, n=n, subject=subject, attribute=attr,
                              group=g, reference=ref, judged=judged))
        metrics.append(Metric(name="statistical_parity_difference", value=spd, ci=spd_ci, n=n, subject=subject,
                              attribute=attr, group=g, reference=ref, judged=judged))
        if judged:
            conds.append(cond("disparate_impact >= 0.8", "disparate_impact", subject, Status.FAIL, di, di_ci))
            conds.append(cond("|statistical_parity_difference| <= 0.1", "statistical_parity_difference", subject,
                              Status.WARN, spd, spd_ci, severity="warn"))
    metrics.append(Metric(name="theil_index", value=0.11731, ci=ci(0.1102, 0.1249), n=9134, subject="all rows"))
    conds.append(cond("equal_opportunity_difference <= 0.1", "equal_opportunity_difference", None, Status.SKIPPED,
                      None))
    conds[-1] = conds[-1].model_copy(update={"message": "metric 'equal_opportunity_difference' was not measured"})
    return CheckResult(
        check_id="fairness.model", category="fairness", version="1.0", title="Group fairness of predictions",
        status=Status.FAIL, summary="3 comparisons on 9134 rows; accuracy 0.861",
        params={"bootstrap": 200, "confidence": 0.95, "min_group_size": 30},
        metrics=metrics, conditions=conds,
        tables=[Table(title="Rates by group", columns=["group", "n", "selection_rate"],
                      rows=[[f"{a}={g}", n, v[0]] for a, g, n, v in groups])],
        evidence={"n": 9134, "comparisons": [c[0] + ": " + c[1] for c in comps]}, duration_s=1.4321,
    )


def robustness_check() -> CheckResult:
    eps = [0.0, 0.05, 0.1, 0.2, 0.5]
    acc = [0.86132, 0.81021, 0.74455, 0.60193, 0.31127]
    rows = [[e, a, a - 0.0301, a + 0.0288, 1 - a / acc[0], 1000] for e, a in zip(eps, acc)]
    metrics = [Metric(name="adversarial_accuracy", value=a, ci=ci(a - 0.0301, a + 0.0288, "wilson"), n=1000,
                      subject=f"eps={e}") for e, a in zip(eps, acc)]
    metrics.append(Metric(name="clean_accuracy", value=0.86132, ci=ci(0.8389, 0.8812, "wilson"), n=1000))
    conds = [cond("adversarial_accuracy >= 0.5", "adversarial_accuracy", f"eps={e}",
                  Status.PASS if a >= 0.5 else Status.FAIL, a, ci(a - 0.0301, a + 0.0288, "wilson"))
             for e, a in zip(eps, acc)]
    return CheckResult(
        check_id="robustness.adversarial", category="robustness", version="0.3", title="Adversarial robustness",
        status=Status.FAIL, summary="FGSM on 1000 rows; accuracy falls to 0.311 at eps 0.5",
        params={"attack": "fgsm", "eps": eps, "sample": 1000},
        metrics=metrics, conditions=conds,
        tables=[Table(title="Robustness curve", columns=["eps", "adversarial_accuracy", "adversarial_accuracy low",
                                                         "adversarial_accuracy high", "attack_success_rate", "n"],
                      rows=rows)],
        evidence={"attack": "FastGradientMethod", "norm": "inf"}, duration_s=3.25,
    )


def explainability_check() -> CheckResult:
    feats = [("relationship", 0.2213), ("capital-gain", 0.1841), ("age", 0.0912), ("sex", 0.0432),
             ("hours-per-week", 0.0377)]
    metrics = [Metric(name="mean_abs_shap", value=v, ci=ci(v * 0.9, v * 1.1), n=500, subject=f)
               for f, v in feats]
    metrics.append(Metric(name="protected_share", value=0.0715, ci=ci(0.0601, 0.0833), n=500, subject="sex"))
    metrics.append(Metric(name="additivity_error_max", value=3.1e-15, n=500))
    return CheckResult(
        check_id="explainability.shap", category="explainability", version="0.2", title="SHAP attributions",
        status=Status.PASS, summary="TreeExplainer on 500 rows", params={"sample": 500, "background": 100},
        metrics=metrics,
        artifacts=[Artifact(path="plots/importance.svg", media_type="image/svg+xml", title="Importance plot"),
                   Artifact(path="../../etc/passwd", media_type="image/svg+xml", title="Escaping path"),
                   Artifact(path="shap_values.csv", media_type="text/csv", title="SHAP values")],
        evidence={"explainer": "TreeExplainer"}, duration_s=0.75,
    )


def lineage_check() -> CheckResult:
    digest = "ab12" * 16
    return CheckResult(
        check_id="lineage.integrity", category="lineage", version="1.0", title="Declared digests match the files",
        status=Status.PASS, summary="2 declared digest(s) match the files",
        metrics=[Metric(name="digest_mismatches", value=0.0, n=2)],
        tables=[Table(title="Declared digests", columns=["file", "declared", "result"],
                      rows=[["model.skops", f"sha256:{digest}", "match"], ["data/eval.csv", None, "match"]])],
        duration_s=0.0012,
    )


def openness_check() -> CheckResult:
    return CheckResult(
        check_id="openness.mof", category="openness", version="1.0", title="Model Openness Framework class",
        status=Status.PASS, summary="Class III - Open Model",
        metrics=[Metric(name="class_rank", value=1.0), Metric(name="total_progress", value=47.0588, unit="%")],
        tables=[Table(title="Components", columns=["component", "status", "license"],
                      rows=[["Model parameters (Final)", "counted", "Apache-2.0"],
                            ["Training dataset", "missing", None]])],
        evidence={"mof_class": "III", "class_label": "Class III - Open Model", "total_progress": 47.0588,
                  "progress": {"I": 12.5, "II": 33.3333, "III": 100.0}},
        duration_s=0.01,
    )


def custom_check(category: str = "calibration") -> CheckResult:
    return CheckResult(
        check_id="acme.calibration", category=category, version="2.1", title="Calibration (third-party plug-in)",
        status=Status.WARN, summary="expected calibration error 0.043",
        metrics=[Metric(name="ece", value=0.04312, ci=ci(0.0351, 0.0517), n=9134),
                 Metric(name="brier", value=0.09921, n=9134)],
        conditions=[cond("ece <= 0.03", "ece", None, Status.WARN, 0.04312, ci(0.0351, 0.0517), "warn")],
        warnings=["probabilities were clipped to [1e-6, 1 - 1e-6]"], duration_s=0.2,
    )


def make_report(report_dir: Path | None = None, *, name: str = "credit-scorer", category: str = "calibration",
                version: str = "2.0.1", minimal: bool = False) -> AuditReport:
    """The synthetic report; with ``report_dir``, also writes its artefacts there (the SVG and the CSV).

    ``minimal`` keeps only the third-party check (for fast PDF tests)."""
    if report_dir is not None:
        (report_dir / "plots").mkdir(parents=True, exist_ok=True)
        (report_dir / "plots" / "importance.svg").write_text(EVIL_SVG)
        (report_dir / "shap_values.csv").write_text("feature,value\nage,0.1\n")
    checks = [custom_check(category)] if minimal else [
        fairness_check(), robustness_check(), explainability_check(), lineage_check(), openness_check(),
        custom_check(category),
        CheckResult(check_id="robustness.membership", category="robustness", version="0.3",
                    title="Membership inference", status=Status.SKIPPED,
                    skipped_reason="the bundle declares no training data"),
        CheckResult(check_id="explainability.proxies", category="explainability", version="0.2",
                    title="Proxy features", status=Status.ERROR,
                    error="ValueError: could not convert string to float: 'Private' at proxies.py:88",
                    duration_s=0.05),
    ]
    counts = {s.value: sum(1 for c in checks if c.status == s) for s in Status}
    return AuditReport(
        report_id=str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF)),
        created_at=datetime(2026, 11, 2, 9, 30, 5, tzinfo=timezone.utc),
        tool=ToolInfo(version="0.1.0", python="3.11.7", platform="linux"),
        packages={"numpy": "2.4.6", "scikit-learn": "1.9.1"},
        bundle=BundleIdentity(
            name=name, version=version, task="binary-classification", description="A synthetic credit model",
            source="bundles/credit", model_format="skops", model_type="sklearn.pipeline.Pipeline",
            files=[FileDigest(path="model.skops", role="model", sha256="9f86d081884c7d659a2feaa0c55ad015"
                              "a3bf4f1b2b0b822cd15d6c15b0f00a08", bytes=257154),
                   FileDigest(path="data/eval.csv", role="data", sha256="60303ae22b998861bce3b28f33eec1be"
                              "758a213c86c93c076dbe9f558c11c752", bytes=130094)],
            n_rows=9134, label="approved", favorable_label="yes", protected={"sex": "Male", "race": "White"},
        ),
        seed=7,
        rubric=RubricRef(name="default", version="1.0.0", source="packaged:default",
                         sha256="f4bf4ff816e3155310993a826f99974223979196fc572f54ae13989c23e0f69d"),
        checks=checks,
        verdict=Status.FAIL,
        counts=counts,
        duration_s=12.3456,
        prediction_s=0.8123,
        warnings=["3 rows with a missing label were dropped"],
    )


# ------------------------------------------------------------------------------------------ traceability

# A number as printed: not glued to a word, a dot-version or a hex digest on either side.
NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w]|\.\d)")
DIGITS = re.compile(r"\d+")


def documented_forms(v: Any) -> set[str]:
    """The printed forms of a JSON number under the rounding rule documented in docs/reports.md
    (written here independently of trustaudit.render.fmt)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return set()
    if isinstance(v, int):
        return {str(v)}
    if not math.isfinite(v):
        return set()
    if v == int(v):
        return {str(int(v))}
    if abs(v) >= 1000:
        return {str(round(v))}
    if abs(v) >= 0.001:
        return {f"{v:.3f}"}
    # beside an interval partner of ordinary size, a tiny float prints with three decimals
    return {f"{v:.1e}", f"{v:.3f}"}


def allowed_tokens(*documents: Any) -> set[str]:
    """Every token a rendering may print from these JSON-like documents: formatted numbers, and the numbers and
    digit runs inside their strings (printed verbatim)."""
    out: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                walk(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str):
            out.update(NUM.findall(x))
            out.update(DIGITS.findall(x))
        else:
            out.update(documented_forms(x))

    for d in documents:
        walk(d)
    return out


def chart_tokens(html: str) -> Counter[str]:
    """Numeric tokens drawn inside the inline SVG images (axis ticks of charts, artefact plots)."""
    found: Counter[str] = Counter()
    for b64 in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html):
        svg = base64.b64decode(b64).decode("utf-8")
        for text in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S):
            found.update(NUM.findall(text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")))
    return found


def untraceable(text: str, allowed: set[str], exclude: Counter[str] | None = None) -> tuple[list[str], int]:
    """Tokens of ``text`` not in ``allowed`` (after removing ``exclude`` occurrences), and how many were checked."""
    tokens = Counter(NUM.findall(text))
    if exclude:
        tokens = tokens - exclude
    bad = sorted(t for t in tokens if t not in allowed)
    return bad, sum(tokens.values())
