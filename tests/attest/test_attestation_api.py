"""The Python API of signed attestations: ECDSA P-256 keys, signing an existing Statement (what the service
does), key errors, and the names re-exported by ``trustaudit``."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

import trustaudit
from tests.attest.conftest import write_keypair
from trustaudit.lineage.attestation import FILENAME, AttestationError, check_attestation, sign_attestation
from trustaudit.lineage.signing import SigningError, load_signer


@pytest.fixture
def audit_copy(doc_run, tmp_path):
    shutil.copytree(doc_run.audit, tmp_path / "audit")
    return doc_run.bundle, tmp_path / "audit"


def test_ecdsa_p256_signed_attestation(audit_copy, tmp_path):
    from trustaudit.lineage.attestation import write_attestation

    bundle, out = audit_copy
    pub = write_keypair(tmp_path / "ec.pem", "ecdsa")
    report = trustaudit.load_report(out / "report.json")
    write_attestation(report, out, sign_key=tmp_path / "ec.pem")
    env = json.loads((out / FILENAME).read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    res = trustaudit.check_attestation(out / FILENAME, bundle, key=pub)
    assert res.ok and res.signed and res.signature_checked
    assert trustaudit.verify_attestation(out / FILENAME, bundle, key=pub) == []
    ed = write_keypair(tmp_path / "ed.pem")
    (problem,) = trustaudit.verify_attestation(out / FILENAME, bundle, key=ed)
    assert problem.startswith("envelope signature: not signed by ed.pub.pem")


def test_sign_an_unsigned_statement(audit_copy, tmp_path):
    bundle, out = audit_copy
    env = json.loads((out / FILENAME).read_text())
    (out / FILENAME).write_text(base64.b64decode(env["payload"]).decode())  # the unsigned Statement
    pub = write_keypair(tmp_path / "srv.pem")
    (problem,) = check_attestation(out / FILENAME, bundle, key=pub).problems
    assert "the attestation is not signed" in problem
    assert check_attestation(out / FILENAME, bundle).ok  # digests only
    trustaudit.sign_attestation(out / FILENAME, tmp_path / "srv.pem")
    assert check_attestation(out / FILENAME, bundle, key=pub).ok
    once = (out / FILENAME).read_bytes()
    sign_attestation(out / FILENAME, tmp_path / "srv.pem")  # already signed by this key: unchanged
    assert (out / FILENAME).read_bytes() == once
    pub2 = write_keypair(tmp_path / "second.pem", "ecdsa")
    sign_attestation(out / FILENAME, tmp_path / "second.pem")  # a second signature is added
    assert len(json.loads((out / FILENAME).read_text())["signatures"]) == 2
    assert check_attestation(out / FILENAME, bundle, key=pub).ok and check_attestation(out / FILENAME, bundle,
                                                                                       key=pub2).ok


def test_key_errors(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    with pytest.raises(SigningError, match="does not exist"):
        load_signer(tmp_path / "none.pem")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.pem").write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    with pytest.raises(SigningError, match="RSAPrivateKey is not supported"):
        load_signer(tmp_path / "rsa.pem")
    k = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "enc.pem").write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.BestAvailableEncryption(b"s3cret")))
    with pytest.raises(SigningError, match="TRUSTAUDIT_SIGN_KEY_PASSWORD"):
        load_signer(tmp_path / "enc.pem")
    assert load_signer(tmp_path / "enc.pem", password="s3cret").public_key.keytype == "ecdsa"
    with pytest.raises(AttestationError, match="does not exist"):
        check_attestation(tmp_path / "missing.json", tmp_path)


def test_keygen_cli(tmp_path):
    from typer.testing import CliRunner

    from trustaudit.cli import app
    from trustaudit.lineage.signing import load_public_key

    res = CliRunner().invoke(app, ["keygen", str(tmp_path / "k.pem"), "--type", "ecdsa"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert load_public_key(tmp_path / "k.pub.pem").keytype == "ecdsa"
    assert load_signer(tmp_path / "k.pem").public_key.keyid == load_public_key(tmp_path / "k.pub.pem").keyid
    res = CliRunner().invoke(app, ["keygen", str(tmp_path / "k.pem")])
    assert res.exit_code == 2 and "refusing to overwrite" in res.output
