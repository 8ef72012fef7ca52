"""OpenSSF model signatures in lineage.integrity: a model signed with model-signing's own API verifies with the
auditor's key, and fails after one changed byte or with another key; the bundle's own key is never trusted."""

from __future__ import annotations

import pytest
import yaml

from tests.attest.conftest import write_keypair
from tests.lineage.conftest import metric, run

pytest.importorskip("model_signing")

RUBRIC_STATUS = {(0, 0): "pass", (0, 1): "warn", (1, 0): "fail"}


@pytest.fixture
def signed(copy_bundle, tmp_path):
    """german-credit with model.skops signed by model-signing (ECDSA P-256 key) and declared."""
    from model_signing import signing

    b = copy_bundle("german-credit")
    pub = write_keypair(tmp_path / "publisher.pem", "ecdsa")
    signing.Config().use_elliptic_key_signer(private_key=tmp_path / "publisher.pem").sign(
        b / "model.skops", b / "model.sig")
    m = yaml.safe_load((b / "trustaudit.yaml").read_text())
    m["lineage"]["signature"] = {"path": "model.sig"}
    (b / "trustaudit.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    return b, pub


def _integrity(bundle, key=None):
    params = {"lineage.integrity": {"model_key": str(key)}} if key is not None else {}
    (res,) = run(bundle, ["lineage.integrity"], params, load_model=False).checks
    failed = metric(res, "model_signatures_failed")
    unverified = metric(res, "model_signatures_unverified")
    assert res.status.value == RUBRIC_STATUS[(int(failed.value), int(unverified.value))]
    return res, int(failed.value), int(unverified.value)


def test_signature_verifies_with_the_auditors_key(signed):
    import hashlib

    b, pub = signed
    res, failed, unverified = _integrity(b, pub)
    assert (failed, unverified) == (0, 0) and res.status.value == "pass"
    sig = res.evidence["model_signature"]
    assert sig["verified"] and sig["trusted"] and sig["files"] == ["model.skops"]
    assert sig["signer"] == "key sha256:" + hashlib.sha256(pub.read_bytes()).hexdigest()
    assert res.summary.startswith("model signature verified")
    (table,) = [t for t in res.tables if t.title.startswith("Model signature")]
    assert table.rows[0][-1] == "verified"


def test_one_changed_byte_fails(signed):
    b, pub = signed
    data = bytearray((b / "model.skops").read_bytes())
    data[len(data) // 3] ^= 0x01
    (b / "model.skops").write_bytes(bytes(data))
    res, failed, _ = _integrity(b, pub)
    assert failed == 1 and res.status.value == "fail"
    assert metric(res, "model_signatures_failed").note == "signature mismatch: content changed since signing: model.skops"
    assert metric(res, "model_signatures_failed").subject == "model.skops"


def test_wrong_key_fails(signed, tmp_path):
    b, _ = signed
    other = write_keypair(tmp_path / "other.pem", "ecdsa")
    res, failed, _ = _integrity(b, other)
    assert failed == 1 and "Key mismatch" in res.evidence["model_signature"]["problem"]


def test_a_key_shipped_in_the_bundle_is_not_trusted(signed):
    import shutil

    b, pub = signed
    shutil.copy(pub, b / "publisher.pub.pem")
    m = yaml.safe_load((b / "trustaudit.yaml").read_text())
    m["lineage"]["signature"]["public_key"] = "publisher.pub.pem"
    (b / "trustaudit.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    res, failed, unverified = _integrity(b)  # no auditor key
    assert (failed, unverified) == (0, 1) and res.status.value == "warn"
    sig = res.evidence["model_signature"]
    assert sig["verified"] and not sig["trusted"] and "untrusted" in sig["trusted_by"]
    # the bundle's key still catches a change (consistency), which fails
    data = bytearray((b / "model.skops").read_bytes())
    data[100] ^= 0x01
    (b / "model.skops").write_bytes(bytes(data))
    assert _integrity(b)[1] == 1


def test_no_key_is_unverified_and_no_signature_counts_zero(signed, copy_bundle):
    b, _ = signed
    res, failed, unverified = _integrity(b)
    assert (failed, unverified) == (0, 1) and "--model-key" in res.summary
    plain = copy_bundle("adult-income-predictions")
    res, failed, unverified = _integrity(plain)
    assert (failed, unverified) == (0, 0) and metric(res, "model_signatures_failed").n == 0
    assert "model_signature" not in res.evidence


def test_missing_or_bad_signature_file_fails_clearly(signed):
    b, pub = signed
    (b / "model.sig").write_text("not a signature")
    res, failed, _ = _integrity(b, pub)
    assert failed == 1 and "is not a model-signing bundle" in res.evidence["model_signature"]["problem"]
    (b / "model.sig").unlink()
    res, failed, _ = _integrity(b, pub)
    assert failed == 1 and "signature file model.sig is not in the bundle" in res.summary


def test_bom_records_the_signer_and_a_bad_model_key_is_refused(signed, tmp_path):
    """The BOM (without a report) records the signer as unverified; a --model-key that is not a file is bad
    input, before anything runs (docs/verify.md's run covers --model-key reaching lineage.integrity)."""
    from typer.testing import CliRunner

    from trustaudit.cli import app
    from trustaudit.lineage.bom import build_bom

    b, _ = signed
    props = {p["name"]: p["value"] for p in build_bom(b)["metadata"]["component"]["properties"]}
    assert props["trustaudit:signature.path"] == "model.sig"
    assert props["trustaudit:signature.signer"].startswith("key sha256:")
    assert props["trustaudit:signature.status"].startswith("not verified")
    res = CliRunner().invoke(app, ["audit", str(b), "--out", str(tmp_path / "o2"), "-q", "--model-key",
                                   str(tmp_path / "nope.pem")])
    assert res.exit_code == 2 and "--model-key" in res.output and not (tmp_path / "o2").exists()


def _ca_and_leaf(tmp_path, name):
    """A CA and a leaf certificate (KeyUsage digitalSignature) signed by it, made with ``cryptography``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} publisher")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / f"{name}-ca.crt").write_bytes(ca.public_bytes(pem))
    (tmp_path / f"{name}-leaf.crt").write_bytes(leaf.public_bytes(pem))
    (tmp_path / f"{name}-leaf.pem").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / f"{name}-ca.crt", tmp_path / f"{name}-leaf.crt", tmp_path / f"{name}-leaf.pem"


def test_certificate_signature_verifies_against_the_auditors_chain(copy_bundle, tmp_path):
    from model_signing import signing

    b = copy_bundle("german-credit")
    ca, leaf, key = _ca_and_leaf(tmp_path, "acme")
    other_ca, _, _ = _ca_and_leaf(tmp_path, "other")
    signing.Config().use_certificate_signer(private_key=key, signing_certificate=leaf,
                                            certificate_chain=[ca]).sign(b / "model.skops", b / "model.sig")
    m = yaml.safe_load((b / "trustaudit.yaml").read_text())
    m["lineage"]["signature"] = {"path": "model.sig", "method": "certificate"}
    (b / "trustaudit.yaml").write_text(yaml.safe_dump(m, sort_keys=False))

    def integrity(chain):
        (res,) = run(b, ["lineage.integrity"], {"lineage.integrity": {"model_certificate_chain": [str(chain)]}},
                     load_model=False).checks
        return res, res.evidence["model_signature"]

    res, sig = integrity(ca)
    assert res.status.value == "pass" and sig["trusted"] and sig["signer"] == "certificate CN=acme publisher"
    res, sig = integrity(other_ca)  # a chain that did not issue the certificate
    assert res.status.value == "fail" and sig["problem"]


def test_a_signature_of_another_file_does_not_vouch_for_the_audited_model(signed):
    """The publisher's genuine signature of model.skops stays, but model.path points at another file: the
    signature proves nothing about the model the audit loaded, even with the auditor's key."""
    import hashlib

    b, pub = signed
    evil = b / "model-evil.skops"
    evil.write_bytes((b / "model.skops").read_bytes() + b"\0")
    m = yaml.safe_load((b / "trustaudit.yaml").read_text())
    m["model"]["path"] = "model-evil.skops"
    m["lineage"]["files"].pop("model.skops")
    m["lineage"]["files"]["model-evil.skops"] = "sha256:" + hashlib.sha256(evil.read_bytes()).hexdigest()
    m["lineage"]["signature"] = {"path": "model.sig", "model": "model.skops"}
    (b / "trustaudit.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    res, failed, _ = _integrity(b, pub)
    assert failed == 1 and res.status.value == "fail"
    assert "not the audited model model-evil.skops" in res.evidence["model_signature"]["problem"]


@pytest.mark.parametrize("material", [{"publicKey": "k"}, {"x509CertificateChain": ["c"]},
                                      {"certificate": 3}, "not a mapping"])
def test_a_malformed_signature_file_is_a_failed_signature_not_an_error(signed, material):
    import json

    b, pub = signed
    doc = json.loads((b / "model.sig").read_text())
    doc["verificationMaterial"] = material
    (b / "model.sig").write_text(json.dumps(doc))
    res, failed, _ = _integrity(b, pub)
    assert res.status.value == "fail" and failed == 1 and res.error is None
