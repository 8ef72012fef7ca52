"""Fixtures for the verifiable-evidence tests: keys made with ``cryptography``, and one run of the commands of
docs/verify.md (publisher signs the model, auditor audits and signs, reviewer verifies and writes the BOM)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "verify.md"
BUNDLE = "adult-income-hgb"
#: Exit codes the doc states; every other command exits 0.
EXPECTED_EXIT = {"trustaudit audit": 1}  # the sample model fails the default rubric's fairness conditions


def write_keypair(private: Path, kind: str = "ed25519") -> Path:
    """A PEM key pair written with ``cryptography`` itself (not trustaudit's keygen); returns the public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: Any = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pub = private.with_suffix(".pub.pem")
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return pub


def doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def doc_commands() -> list[str]:
    """The ``$ ...`` lines of the doc's console blocks, in order."""
    return [line[2:].strip() for block in doc_blocks("console") for line in block.splitlines()
            if line.startswith("$ ")]


@dataclass
class DocRun:
    root: Path  # the working directory the commands ran in
    results: list[tuple[str, int, str]] = field(default_factory=list)  # (command, exit code, output)

    @property
    def bundle(self) -> Path:
        return self.root / BUNDLE

    @property
    def audit(self) -> Path:
        return self.root / "audit"


def _run(cmd: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from trustaudit.cli import app

    argv = shlex.split(cmd)
    if argv[0] == "trustaudit":
        res = CliRunner().invoke(app, argv[1:])
        return res.exit_code, res.output
    if argv[0] == "model_signing":  # the OpenSSF tool's own CLI, as the publisher runs it
        exe = Path(sys.executable).with_name("model_signing")
        proc = subprocess.run([str(exe), *argv[1:]], capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr
    raise AssertionError(f"docs/verify.md runs an unexpected program: {cmd}")


@pytest.fixture(scope="session")
def doc_run(tmp_path_factory) -> DocRun:
    """Run docs/verify.md's commands in order in a fresh folder holding a copy of the sample bundle. After the
    model_signing command, the doc's YAML snippet is merged into the bundle's manifest, as the doc says."""
    pytest.importorskip("model_signing")
    root = tmp_path_factory.mktemp("verify-doc")
    shutil.copytree(ROOT / "sample_models" / BUNDLE, root / BUNDLE)
    (snippet,) = doc_blocks("yaml")
    run = DocRun(root)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for cmd in doc_commands():
            code, out = _run(cmd)
            run.results.append((cmd, code, out))
            if cmd.startswith("model_signing"):
                manifest = yaml.safe_load((root / BUNDLE / "trustaudit.yaml").read_text(encoding="utf-8"))
                manifest["lineage"].update(yaml.safe_load(snippet)["lineage"])
                (root / BUNDLE / "trustaudit.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False),
                                                                encoding="utf-8")
    finally:
        os.chdir(cwd)
    return run
