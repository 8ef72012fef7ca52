"""The view model: reading order, generic rendering of any check, dedicated charts per category."""

from __future__ import annotations

import base64

from trustaudit.render import view as v
from trustaudit.results import CheckResult, Metric, Status, Table

from .helpers import make_report


def _section(view, title):
    return next(s for s in view.sections if s.title == title)


def test_sections_in_reading_order(synth_report, synth_dir):
    view = v.build_view(synth_report, report_dir=synth_dir)
    assert [s.title for s in view.sections] == [
        "Verdict", "System identity", "Lineage and provenance", "Openness and licensing", "Fairness",
        "Robustness", "Explainability", "Calibration", "Skipped and errored checks", "Methodology",
        "Appendix: compliance mapping",
    ]
    shown = [c.check_id for s in view.sections for c in s.checks]
    assert sorted(shown) == sorted(c.check_id for c in synth_report.checks)  # each check once
    anchors = [s.anchor for s in view.sections] + [c.anchor for s in view.sections for c in s.checks]
    assert len(anchors) == len(set(anchors))
    assert view.header == "credit-scorer 2.0.1 · model sha256:9f86d081884c"


def test_verdict_lists_counts_and_failed_conditions(synth_report):
    s = _section(v.build_view(synth_report), "Verdict")
    counts = next(t for t in s.blocks if t.title == "Checks by status")
    assert [c.text for c in counts.rows[0]] == ["3", "1", "2", "1", "1"]  # pass warn fail error skipped
    failed = next(t for t in s.blocks if t.title == "Failed conditions")
    # 2 disparate-impact fails (fairness) + 1 adversarial-accuracy fail (robustness); warnings are not listed here
    assert [(r[0].text, r[2].text, r[3].text, r[3].sub) for r in failed.rows] == [
        ("fairness.model", "sex: Female vs Male", "0.380", "[0.339, 0.420]"),
        ("fairness.model", "race: not White vs White", "0.560", "[0.519, 0.600]"),
        ("robustness.adversarial", "eps=0.5", "0.311", "[0.281, 0.340]"),
    ]
    overview = next(t for t in s.blocks if t.title == "Checks")
    assert [r[2].text for r in overview.rows][:2] == ["fail", "fail"]  # worst first


def test_warn_verdict_lists_warnings(synth_report):
    report = synth_report.model_copy(deep=True)
    report.checks = [c for c in report.checks if c.check_id == "acme.calibration"]
    s = _section(v.build_view(report), "Verdict")
    assert any(t.title == "Conditions with warnings" for t in s.blocks)


def test_metric_pivot_folds_group_size_marks_unjudged_and_colours_failures(synth_report):
    cv = v.check_view(synth_report.check("fairness.model"), "a", None, "html")
    groups = cv.metric_tables[0]
    assert groups.columns == ["group", "n", "selection_rate", "tpr", "fpr", "error_rate"]  # group_size -> n
    other = next(r for r in groups.rows if r[0].text == "race=Other")
    assert other[1].text == "21" and other[2].text == "0.095 †" and "unjudged" in other[2].cls
    assert groups.note == "† not judged: group smaller than 30"
    comps = cv.metric_tables[1]
    assert comps.columns[:3] == ["comparison", "n", "disparate_impact"]
    sex = next(r for r in comps.rows if r[0].text == "sex: Female vs Male")
    assert "value-fail" in sex[2].cls and sex[2].sub == "[0.339, 0.420]"
    # the check's own table repeats the metrics without intervals: dropped for fairness
    assert cv.tables == []
    # in the PDF, at most 4 metric columns per table
    pdf_cv = v.check_view(synth_report.check("fairness.model"), "a", None, "pdf")
    assert all(len(t.columns) <= 6 for t in pdf_cv.metric_tables)


def test_fairness_charts_group_rates_and_bounds(synth_report):
    cv = v.check_view(synth_report.check("fairness.model"), "a", None, "html")
    titles = [c.title for c in cv.charts]
    assert titles[:2] == ["sex: selection_rate, tpr, fpr, error_rate by group",
                          "race: selection_rate, tpr, fpr, error_rate by group"]
    assert "disparate_impact against the rubric bound" in titles
    di = cv.charts[titles.index("disparate_impact against the rubric bound")]
    assert "&gt;= 0.8" in di.svg and di.svg.count("<circle") == 2
    assert "White (ref.)" in cv.charts[1].svg


def test_robustness_curve_from_table_and_generic_condition_chart(synth_report):
    cv = v.check_view(synth_report.check("robustness.adversarial"), "a", None, "html")
    curve = cv.charts[0]
    assert curve.title.startswith("Robustness curve: adversarial_accuracy, attack_success_rate by eps")
    assert curve.svg.count("<polyline") == 2  # the low/high columns became whiskers, not series
    assert "attack_success_rate" in curve.svg and "adversarial_accuracy low" not in curve.svg
    assert cv.charts[1].title == "adversarial_accuracy against the rubric bound"


def test_curve_detection_variants():
    rows = [["fgsm", 0.0, 0.9, 0.88, 0.92, 100], ["fgsm", 0.1, 0.8, 0.77, 0.83, 100],
            ["fgsm", 0.2, 0.6, 0.55, 0.65, 100], ["pgd", 0.0, 0.9, 0.88, 0.92, 100],
            ["pgd", 0.1, 0.7, 0.66, 0.74, 100], ["pgd", 0.2, 0.4, 0.35, 0.45, 100]]
    t = Table(title="Curve", columns=["attack", "budget (sd)", "adversarial accuracy", "ci low", "ci high", "n"],
              rows=rows)
    result = CheckResult(check_id="robustness.x", category="robustness", version="1", title="x",
                         status=Status.PASS, tables=[t])
    [chart] = v.curve_charts(result)
    assert chart.svg.count("<polyline") == 2 and ">fgsm<" in chart.svg and ">pgd<" in chart.svg
    assert chart.svg.count('stroke-width="1.4"') == 18  # 6 points x (whisker + 2 caps)
    ranked = Table(title="Importance", columns=["rank", "feature", "share"], rows=[[1, "a", 0.5], [2, "b", 0.3],
                                                                                   [3, "c", 0.2]])
    unsorted = Table(title="U", columns=["x", "y"], rows=[[0.2, 0.5], [0.1, 0.4], [0.3, 0.2]])
    result = result.model_copy(update={"tables": [ranked, unsorted]})
    assert v.curve_charts(result) == []  # a rank is not an x axis; an unsorted column is not a curve


def test_explainability_importance_and_artifacts(synth_report, synth_dir):
    result = synth_report.check("explainability.shap")
    bare = v.check_view(result.model_copy(update={"artifacts": []}), "a", synth_dir, "html")
    assert bare.charts[0].title == "mean_abs_shap by feature"
    assert bare.charts[0].svg.index("relationship") < bare.charts[0].svg.index("hours-per-week")  # largest first
    cv = v.check_view(result, "a", synth_dir, "html")
    assert cv.charts == []  # the check ships its own plot: shown instead of a derived chart
    inline = [a for a in cv.artifacts if a.data_uri]
    assert len(inline) == 1
    svg = base64.b64decode(inline[0].data_uri.split(",", 1)[1]).decode()
    assert "<script" not in svg and "example.com" not in svg
    notes = {a.path: a.note for a in cv.artifacts if not a.data_uri}
    assert notes == {"../../etc/passwd": "not found inside the report directory",
                     "shap_values.csv": "file beside report.json"}


def test_openness_badge_and_class(synth_report):
    cv = v.check_view(synth_report.check("openness.mof"), "a", None, "html")
    assert cv.highlights[0].value == "Class III - Open Model"
    assert cv.badge_uri and "Class III" in base64.b64decode(cv.badge_uri.split(",", 1)[1]).decode()


def test_unknown_check_family_gets_the_generic_rendering():
    result = CheckResult(
        check_id="x.y", category="Weird Category", version="9", title="Something new", status=Status.PASS,
        summary="fine", metrics=[Metric(name="m", value=0.5), Metric(name="k", value=2.0, subject="s", n=3)],
        tables=[Table(title="T", columns=["a", "b"], rows=[["q", 1.23456], ["r", None]])],
        evidence={"nested": {"a": [1, 2]}, "flag": True}, warnings=["careful"],
    )
    cv = v.check_view(result, "x", None, "html")
    assert [t.title for t in cv.metric_tables] == ["Measurements", "Measurements"]
    assert [[c.text for c in r] for r in cv.tables[0].rows] == [["q", "1.235"], ["r", "n/a"]]
    assert [(e.key, e.value) for e in cv.evidence] == [("nested", "a: 1, 2"), ("flag", "yes")]
    view = v.build_view(make_report(minimal=True, category="Weird Category"))
    assert "Weird Category" in [s.title for s in view.sections]


def test_empty_core_categories_say_so(synth_report):
    report = synth_report.model_copy(deep=True)
    report.checks = [c for c in report.checks if c.category == "fairness"]
    view = v.build_view(report)
    lineage = _section(view, "Lineage and provenance")
    assert lineage.checks == [] and "no evidence" in lineage.empty_note


def test_condition_bounds():
    """Bounds come from the judged condition's structure, never from its text."""
    from trustaudit.results import ConditionSpec

    assert [r.value for r in v.condition_bounds(ConditionSpec(metric="di", op=">=", value=0.8))] == [0.8]
    assert [r.value for r in v.condition_bounds(ConditionSpec(metric="spd", op="<=", value=0.1, abs=True))] == [
        -0.1, 0.1]
    assert [r.value for r in v.condition_bounds(ConditionSpec(metric="x", op="between", low=0, high=1))] == [0.0, 1.0]
    assert v.condition_bounds(ConditionSpec(metric="x", op="<=", value=0.02, relative_to="baseline")) == []
    assert v.condition_bounds(None) == []  # a schema 1.0 report: no structure, no guessed bound


def test_conditions_met_on_many_subjects_are_folded(synth_report):
    cv = v.check_view(synth_report.check("robustness.adversarial"), "a", None, "html")
    rows = [[c.text for c in r] for r in cv.conditions.rows]
    assert rows == [
        ["adversarial_accuracy >= 0.5", "eps=0.5", "0.311", "interval", "fail", "fail"],
        ["adversarial_accuracy >= 0.5", "every other subject", "see the measurements", "interval", "fail", "pass"],
    ]


def test_skipped_errored_and_methodology(synth_report):
    view = v.build_view(synth_report)
    nr = _section(view, "Skipped and errored checks")
    checks = next(t for t in nr.blocks if t.title == "Checks")
    assert [(r[0].text, r[2].text) for r in checks.rows] == [("robustness.membership", "skipped"),
                                                             ("explainability.proxies", "error")]
    assert any(t.title == "Conditions not evaluated" for t in nr.blocks)
    meth = _section(view, "Methodology")
    params = next(t for t in meth.blocks if t.title == "Check parameters")
    assert ["robustness.adversarial", "eps", "0, 0.050, 0.100, 0.200, 0.500"] in [
        [c.text for c in r] for r in params.rows]
    unc = next(t for t in meth.blocks if t.title == "Uncertainty and sample sizes")
    fair = next(r for r in unc.rows if r[0].text == "fairness.model")
    assert [c.text for c in fair[1:]] == ["bootstrap-percentile (200)", "0.950", "21", "9134"]


def test_appendix_maps_every_check(synth_report):
    app = _section(v.build_view(synth_report), "Appendix: compliance mapping")
    rows = app.blocks[0].rows
    labels = [r[0].text for r in rows]
    for c in synth_report.checks:
        assert f"{c.check_id}: {c.title}" in labels
    fair = next(r for r in rows if r[0].text.startswith("fairness.model"))
    assert fair[3].text == "MEASURE 2.11"
    legend_codes = {r[0].text for t in app.blocks[1:] for r in t.rows}
    used = {code for r in rows for cell in r[2:] for code in cell.text.split("; ") if code}
    assert used == legend_codes  # the legend explains exactly the codes used
