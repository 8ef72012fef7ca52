"""docs/verify.md, start to end: its commands run and exit as the doc says; the signed attestation, the model
signature and the ML-BOM they produce are checked independently (cryptography, jsonschema, the CycloneDX strict
validator, the sample model's own card)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from tests.attest.conftest import EXPECTED_EXIT, ROOT, doc_commands, write_keypair
from trustaudit.cli import app

runner = CliRunner()


def test_doc_commands_run_with_the_stated_exit_codes(doc_run):
    assert [c for c, _, _ in doc_run.results] == doc_commands()
    assert any(c.startswith("model_signing sign") for c, _, _ in doc_run.results)
    for cmd, code, out in doc_run.results:
        want = next((v for k, v in EXPECTED_EXIT.items() if cmd.startswith(k)), 0)
        assert code == want, f"{cmd}: exit {code}\n{out}"
    verify = next(out for c, _, out in doc_run.results if c.startswith("trustaudit verify-attestation"))
    assert "ok: signature by auditor.pub.pem verified" in verify


def test_envelope_verifies_with_cryptography_alone(doc_run):
    """A second implementation: DSSE's pre-authentication encoding written out from the spec and the Ed25519
    signature checked with ``cryptography``, without securesystemslib."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    env = json.loads((doc_run.audit / "attestation.intoto.json").read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json" and len(env["signatures"]) == 1
    payload = base64.b64decode(env["payload"])
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    key = load_pem_public_key((doc_run.root / "auditor.pub.pem").read_bytes())
    sig = base64.b64decode(env["signatures"][0]["sig"])
    key.verify(sig, pae)  # type: ignore[union-attr]  # raises when it does not verify
    with pytest.raises(InvalidSignature):
        key.verify(sig, pae.replace(b'"verdict": "fail"', b'"verdict": "pass"'))  # type: ignore[union-attr]
    st = json.loads(payload)
    # the Statement pins the files actually in the bundle and the report's exact bytes
    assert {s["name"]: s["digest"]["sha256"] for s in st["subject"]} == {
        p: hashlib.sha256((doc_run.bundle / p).read_bytes()).hexdigest()
        for p in ("model.skops", "data/eval.csv.gz", "data/train.csv.gz", "trustaudit.yaml")}
    report = (doc_run.audit / "report.json").read_bytes()
    assert st["predicate"]["report"]["digest"]["sha256"] == hashlib.sha256(report).hexdigest()
    assert st["predicate"]["verdict"] == json.loads(report)["verdict"] == "fail"


def test_predicate_matches_its_schema(doc_run):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "attestation-predicate.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    st = json.loads(base64.b64decode(json.loads((doc_run.audit / "attestation.intoto.json").read_text())["payload"]))
    assert st["predicateType"] == schema["$id"]
    jsonschema.validate(st["predicate"], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(st["predicate"], verdict="great"), schema)


def _fingerprint(pub_pem: bytes) -> str:
    return hashlib.sha256(pub_pem).hexdigest()


def test_report_records_the_verified_model_signature(doc_run):
    rep = json.loads((doc_run.audit / "report.json").read_text())
    (integ,) = [c for c in rep["checks"] if c["check_id"] == "lineage.integrity"]
    sig = integ["evidence"]["model_signature"]
    fp = _fingerprint((doc_run.root / "publisher.pub.pem").read_bytes())
    assert sig["verified"] and sig["trusted"] and sig["problem"] is None
    assert sig["signer"] == f"key sha256:{fp}" and sig["files"] == ["model.skops"]
    assert f"sha256:{fp}" in sig["trusted_by"] and "publisher.pub.pem" in sig["trusted_by"]
    assert {m["name"]: m["value"] for m in integ["metrics"]}["model_signatures_failed"] == 0
    assert integ["status"] == "pass"


def test_bom_passes_the_strict_cyclonedx_16_validator(doc_run):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    text = (doc_run.root / "adult-income-hgb.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    model = doc["metadata"]["component"]
    props = {p["name"]: p["value"] for p in model["properties"]}
    fp = _fingerprint((doc_run.root / "publisher.pub.pem").read_bytes())
    assert props["trustaudit:signature.status"] == "verified"
    assert props["trustaudit:signature.signer"] == f"key sha256:{fp}"
    assert props["trustaudit:signature.signed"] == "model.skops"
    # the invalidity checks of the validator are real: a metric without its value is refused
    broken = json.loads(text)
    del broken["metadata"]["component"]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"][0]["value"]
    broken["metadata"]["component"]["modelCard"]["considerations"]["fairnessAssessments"][0]["groupAtRisk"] = 3
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(broken)) is not None


def _pct(text: str) -> list[float]:
    return [float(x) / 100 for x in re.findall(r"([0-9.]+)%", text)]


def test_bom_metrics_are_the_audits(doc_run):
    doc = json.loads((doc_run.root / "adult-income-hgb.cdx.json").read_text())
    rep = json.loads((doc_run.audit / "report.json").read_text())
    card = doc["metadata"]["component"]["modelCard"]
    perf = card["quantitativeAnalysis"]["performanceMetrics"]
    by = {(p["type"], p.get("slice")): p for p in perf}
    # accuracy against the sample model's own card (computed by sample_models/build.py with scikit-learn)
    card_md = (ROOT / "sample_models" / "adult-income-hgb" / "README.md").read_text()
    readme_acc = float(re.search(r"\| accuracy \| ([0-9.]+) \|", card_md).group(1))  # type: ignore[union-attr]
    acc = float(by[("fairness.model:accuracy", "all rows")]["value"])
    assert abs(acc - readme_acc) < 5e-5
    # every fairness.model metric of the report (but group sizes) is there, with its slice and interval
    fm = next(c for c in rep["checks"] if c["check_id"] == "fairness.model")
    measured = [m for m in fm["metrics"] if m["value"] is not None and m["name"] != "group_size"]
    assert len([p for p in perf if p["type"].startswith("fairness.model:")]) == len(measured)
    di = by[("fairness.model:disparate_impact", "sex=Female vs sex=Male")]
    sr_f = float(by[("fairness.model:selection_rate", "sex=Female")]["value"])
    sr_m = float(by[("fairness.model:selection_rate", "sex=Male")]["value"])
    assert float(di["value"]) == pytest.approx(sr_f / sr_m, rel=1e-4)  # DI is the ratio of selection rates
    low, high = float(di["confidenceInterval"]["lowerBound"]), float(di["confidenceInterval"]["upperBound"])
    assert low < float(di["value"]) < high
    assert not any(p["type"].startswith("lineage.") for p in perf)  # counts of files are not performance
    # fairness assessments: the groups the failed / warned conditions put at risk
    fa = {a["groupAtRisk"]: a for a in card["considerations"]["fairnessAssessments"]}
    failing = {(c["subject"] or "").split(" vs ")[0].replace(": ", "=") for c in fm["conditions"]
               if c["status"] in ("fail", "warn")}
    assert set(fa) == failing and "sex=Female" in fa
    female = fa["sex=Female"]
    assert "disparate_impact >= 0.8 not met (fail)" in female["harms"]
    assert _pct(female["benefits"]) == [pytest.approx(sr_f, abs=5e-4), pytest.approx(sr_m, abs=5e-4)]
    assert "mitigationStrategy" not in female  # no mitigation.fairness result in this report


def test_a_mitigation_result_fills_mitigation_strategy(doc_run):
    """With a mitigation.fairness result in the report (shaped as that check reports a remedy: subject, attribute,
    group, reference), each group's assessment says what the remedy measured; its what-if metrics are not the
    model's performance."""
    from trustaudit.lineage.bom import bom_json, build_bom, validate_bom
    from trustaudit.results import CheckResult, Interval, Metric, Status

    rep = trustaudit_load(doc_run.audit / "report.json")
    subject = "threshold-optimizer (demographic_parity) · sex: Female vs Male"
    fields = {"attribute": "sex", "group": "Female", "reference": "Male", "subject": subject}
    rep.checks.append(CheckResult(
        check_id="mitigation.fairness", category="fairness", version="1.0", title="remedies", status=Status.WARN,
        summary="sex: threshold-optimizer meets 4 of 5 conditions",
        metrics=[Metric(name="disparate_impact", value=0.91, ci=Interval(low=0.85, high=0.97, method="newcombe"), **fields),
                 Metric(name="conditions_met", value=4.0, **fields),
                 Metric(name="accuracy_change", value=-0.012, ci=Interval(low=-0.015, high=-0.009, method="bootstrap-bca"), **fields)]))
    doc = build_bom(doc_run.bundle, report=rep)
    validate_bom(bom_json(doc))
    card = doc["metadata"]["component"]["modelCard"]
    fa = {a["groupAtRisk"]: a for a in card["considerations"]["fairnessAssessments"]}
    assert fa["sex=Female"]["mitigationStrategy"] == (
        "mitigation.fairness (warn): sex: threshold-optimizer meets 4 of 5 conditions; "
        f"{subject}: conditions_met 4; {subject}: accuracy_change -0.012 [-0.015, -0.009]")
    assert "mitigationStrategy" not in fa["race=Black"]  # no remedy measured for race
    perf = card["quantitativeAnalysis"]["performanceMetrics"]
    assert not any(p["type"].startswith("mitigation.fairness") for p in perf)


def trustaudit_load(path):
    from trustaudit.results.io import load_report

    return load_report(path)


def _copy(doc_run, tmp_path):
    shutil.copytree(doc_run.bundle, tmp_path / "b")
    shutil.copytree(doc_run.audit, tmp_path / "audit")
    return tmp_path / "b", tmp_path / "audit" / "attestation.intoto.json", doc_run.root / "auditor.pub.pem"


def _verify(bundle, att, key, *extra):
    res = runner.invoke(app, ["verify-attestation", str(bundle), str(att), "--key", str(key), *extra])
    return res.exit_code, res.output


def _flip(path, offset=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target, named", [
    ("b/model.skops", "changed: model.skops: sha256"),
    ("b/data/eval.csv.gz", "changed: data/eval.csv.gz: sha256"),
    ("b/data/train.csv.gz", "changed: data/train.csv.gz: sha256"),
    ("audit/report.json", "changed: report.json: sha256"),
    ("b/trustaudit.yaml", "changed: trustaudit.yaml: sha256"),
])
def test_one_changed_byte_fails_and_is_named(doc_run, tmp_path, target, named):
    bundle, att, key = _copy(doc_run, tmp_path)
    assert _verify(bundle, att, key)[0] == 0
    _flip(tmp_path / target)
    code, out = _verify(bundle, att, key)
    assert code == 1 and named in out
    assert out.count("changed:") == 1  # only what changed is named


def test_changed_envelope_fails(doc_run, tmp_path):
    bundle, att, key = _copy(doc_run, tmp_path)
    env = json.loads(att.read_text())
    payload = env["payload"]
    i = len(payload) // 2
    env["payload"] = payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1:]  # still valid base64
    att.write_text(json.dumps(env))
    code, out = _verify(bundle, att, key)
    assert code == 1 and "changed: envelope signature: does not verify with auditor.pub.pem" in out
    # a changed signature byte
    env = json.loads((doc_run.audit / "attestation.intoto.json").read_text())
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 0x01
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    att.write_text(json.dumps(env))
    code, out = _verify(bundle, att, key)
    assert code == 1 and "envelope signature: does not verify" in out


def test_wrong_key_fails(doc_run, tmp_path):
    bundle, att, _ = _copy(doc_run, tmp_path)
    other = write_keypair(tmp_path / "other.pem")
    code, out = _verify(bundle, att, other)
    assert code == 1 and "envelope signature: not signed by other.pub.pem" in out and "wrong key" in out


def test_malformed_input_is_a_one_line_error(doc_run, tmp_path):
    bundle, att, key = _copy(doc_run, tmp_path)
    bad = tmp_path / "bad.json"
    for content, msg in (("{not json", "is not valid JSON"),
                         ('{"payloadType": "x", "payload": "e30=", "signatures": 3}', "needs a 'signatures' list"),
                         ('{"_type": "nope"}', "is not an in-toto Statement v1")):
        bad.write_text(content)
        code, out = _verify(bundle, bad, key)
        assert code == 2 and out.startswith("error: ") and msg in out and out.count("\n") == 1, out
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    code, out = _verify(bundle, att, garbage)
    assert code == 2 and "is not a PEM public key" in out
    code, out = _verify(bundle, att, doc_run.root / "auditor.pem")
    assert code == 2 and "is a private key" in out
    code, out = _verify(bundle, att, tmp_path / "missing.pub.pem")
    assert code == 2 and "does not exist" in out


def test_without_key_digests_are_checked_but_a_warning_says_so(doc_run, tmp_path):
    bundle, att, _ = _copy(doc_run, tmp_path)
    res = runner.invoke(app, ["verify-attestation", str(att), str(bundle)])  # the older argument order
    assert res.exit_code == 0 and "signature was NOT checked" in res.output
    _flip(bundle / "model.skops")
    res = runner.invoke(app, ["verify-attestation", str(bundle), str(att)])
    assert res.exit_code == 1 and "model.skops" in res.output


def test_a_model_swapped_in_beside_the_audited_one_fails(doc_run, tmp_path):
    """The manifest is a subject: pointing model.path at another file (the audited one left in place) or
    flipping the favourable label is a changed trustaudit.yaml, not an ok."""
    bundle, att, key = _copy(doc_run, tmp_path)
    (bundle / "model-v2.skops").write_bytes(b"not the audited model")
    text = (bundle / "trustaudit.yaml").read_text()
    assert "path: model.skops" in text
    (bundle / "trustaudit.yaml").write_text(text.replace("path: model.skops", "path: model-v2.skops", 1))
    code, out = _verify(bundle, att, key)
    assert code == 1 and "changed: trustaudit.yaml: sha256" in out and out.count("changed:") == 1
