"""``trustaudit render`` and the renderer entry point the audit command uses."""

from __future__ import annotations

from typer.testing import CliRunner

from trustaudit.cli import app
from trustaudit.render import render_to_dir

runner = CliRunner()


def test_render_markdown_and_html(synth_dir, tmp_path):
    out = tmp_path / "summary.md"
    res = runner.invoke(app, ["render", str(synth_dir / "report.json"), "--format", "md", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("### ❌ trustaudit: **FAIL**")
    res = runner.invoke(app, ["render", str(synth_dir / "report.json"), "-f", "md", "-o", "-"])
    assert res.exit_code == 0 and "<code>fairness.model</code>" in res.output
    html_out = tmp_path / "r.html"
    res = runner.invoke(app, ["render", str(synth_dir / "report.json"), "-f", "html", "-o", str(html_out)])
    assert res.exit_code == 0 and "<h1>Verdict</h1>" in html_out.read_text()
    assert "importance plot" not in html_out.read_text()  # inlined as a data URI, not as text


def test_render_with_template_dir(synth_dir, tmp_path):
    tdir = tmp_path / "t"
    tdir.mkdir()
    (tdir / "_banner.html.j2").write_text("<header>custom {{ view.model_name }}</header>\n")
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["render", str(synth_dir / "report.json"), "-f", "html", "-o", str(out),
                              "--template-dir", str(tdir)])
    assert res.exit_code == 0, res.output
    assert "<header>custom credit-scorer</header>" in out.read_text()


def test_render_bad_input_exits_2(synth_dir, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0"}')
    cases = [
        ["render", str(synth_dir / "report.json"), "-f", "docx"],
        ["render", str(tmp_path / "missing.json"), "-f", "md"],
        ["render", str(bad), "-f", "md"],
        ["render", str(synth_dir / "report.json"), "-f", "pdf", "-o", "-"],
        ["render", str(synth_dir / "report.json"), "-f", "html", "--template-dir", str(tmp_path / "nope")],
    ]
    for args in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "error:" in res.output


def test_render_to_dir_writes_beside_report(synth_report, tmp_path):
    path = render_to_dir(synth_report, "markdown", tmp_path)
    assert path == tmp_path / "report.md" and path.read_text().startswith("### ")


def test_cli_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, trustaudit.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('weasyprint', 'jinja2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
