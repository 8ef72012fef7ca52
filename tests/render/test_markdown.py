"""The Markdown summary: what a pull-request comment needs, sized for one."""

from __future__ import annotations

from trustaudit.render.markdown import GITHUB_COMMENT_LIMIT, md, render_markdown
from trustaudit.results import Status

from .helpers import cond


def test_summary_content(synth_report):
    text = render_markdown(synth_report)
    lines = text.splitlines()
    assert lines[0] == "### ❌ trustaudit: **FAIL** · credit-scorer 2.0.1"
    assert "| 3 | 1 | 2 | 1 | 1 |" in text  # pass warn fail error skipped
    for c in synth_report.checks:
        assert f"<code>{c.check_id}</code>" in text
    assert "Conditions not met: 3 fail, 3 warn" in text
    assert "| <code>fairness.model</code> | <code>disparate_impact &gt;= 0.8</code> | sex: Female vs Male | " \
           "0.380 \\[0.339, 0.420\\] | ❌ fail |" in text
    assert "- <code>robustness.membership</code> (skipped): the bundle declares no training data" in text
    assert "model sha256:9f86d081884c" in text
    assert len(text) < 4000


def test_summary_stays_short_with_many_failures(synth_report):
    report = synth_report.model_copy(deep=True)
    fair = report.check("fairness.model")
    fair.conditions = [cond("disparate_impact >= 0.8", "disparate_impact", f"group {i} | x", Status.FAIL, 0.1)
                       for i in range(2000)]
    text = render_markdown(report)
    assert len(text) < 20000 < GITHUB_COMMENT_LIMIT
    assert "…and 1987 more in the full report." in text
    assert "group 0 \\| x" in text  # a pipe in a value cannot break the table
    tiny = render_markdown(report, max_chars=2500)
    assert len(tiny) <= 2500


def test_md_escape():
    assert md("a|b *c* <d> & [e](f)\nnext") == "a\\|b \\*c\\* &lt;d&gt; &amp; \\[e\\]\\(f\\) next"
