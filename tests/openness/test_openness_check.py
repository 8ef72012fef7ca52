from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from trustaudit.checks.openness import OpennessCheck, OpennessParams
from trustaudit.errors import SkipCheck
from trustaudit.openness.components import BUCKETS
from trustaudit.results import CheckResult, Status

CONF = Path(__file__).parent / "conformance"
MIT_TEXT = (CONF / "LICENSE-MOT").read_text(encoding="utf-8")


def _ctx(openness: dict | None, root: Path | None = None) -> SimpleNamespace:
    manifest = SimpleNamespace(name="credit", version="1.0", openness=openness)
    return SimpleNamespace(bundle=SimpleNamespace(manifest=manifest, root=root))


def _metrics(out) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    return {m.name: m.value for m in out.metrics}


def test_check_metrics_class_iii(tmp_path: Path) -> None:
    (tmp_path / "model.skops").write_bytes(b"x")
    (tmp_path / "LICENSE").write_text(MIT_TEXT)
    comps = [{"name": n} for n in BUCKETS["III"]]
    comps[1]["component_path"] = "model.skops"
    section = {"license": {"distribution": {"name": "MIT"}}, "components": comps}
    out = OpennessCheck().run(_ctx(section, tmp_path), OpennessParams())  # type: ignore[arg-type]
    m = _metrics(out)
    assert m["class_rank"] == 1.0 and m["mof_class_rank"] == 1.0
    assert (m["progress_class_1"], m["progress_class_2"], m["progress_class_3"]) == (0.0, 60.0, 100.0)
    assert m["final_parameters_open"] == 1.0
    assert m["evidence_errors"] == 0.0
    assert m["art53_exemption_plausible"] == 1.0
    assert "Class III" in out.summary
    # the engine's result model accepts the output
    CheckResult(
        check_id=OpennessCheck.id,
        category=OpennessCheck.category,
        version="1.0",
        title="t",
        status=Status.PASS,
        metrics=out.metrics,
        tables=out.tables,
        evidence=out.evidence,
    )


def test_check_restrictive_weights() -> None:
    section = {"components": [{"name": "Model parameters (Final)", "license": "llama3.1"}]}
    out = OpennessCheck().run(_ctx(section), OpennessParams(evidence=False))  # type: ignore[arg-type]
    m = _metrics(out)
    assert m["class_rank"] == 0.0 and m["final_parameters_open"] == 0.0 and m["restrictive_components"] == 1.0
    assert m["art53_exemption_plausible"] == 0.0


def test_check_skips_without_section() -> None:
    with pytest.raises(SkipCheck):
        OpennessCheck().run(_ctx(None), OpennessParams())  # type: ignore[arg-type]


def test_check_strict_param() -> None:
    section = {"components": [{"name": n, "license": "Apache 2.0"} for n in BUCKETS["III"]]}
    default = _metrics(OpennessCheck().run(_ctx(section), OpennessParams()))  # type: ignore[arg-type]
    strict = _metrics(OpennessCheck().run(_ctx(section), OpennessParams(strict_mot=True)))  # type: ignore[arg-type]
    assert default["class_rank"] == 1.0 and strict["class_rank"] == 0.0
