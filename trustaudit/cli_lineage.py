"""``trustaudit bom`` (CycloneDX 1.6 ML-BOM of a bundle), ``trustaudit verify-attestation`` and
``trustaudit keygen``.

Registered by :mod:`trustaudit.cli`; everything heavy (cyclonedx-python-lib, pandas) is imported inside the
commands so ``trustaudit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``bom``, ``verify-attestation`` and ``keygen`` commands to ``app``."""

    @app.command("bom")
    def bom(
        bundle: Annotated[Path, typer.Argument(help="Bundle directory holding trustaudit.yaml")],
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the BOM to this file (default: standard output)")
        ] = None,
        report: Annotated[
            Path | None,
            typer.Option("--report", help="report.json of an audit of this bundle: add its metrics to the model card"),
        ] = None,
        no_validate: Annotated[
            bool, typer.Option("--no-validate", help="Skip the CycloneDX 1.6 JSON schema validation (faster)")
        ] = False,
    ) -> None:
        """Write a CycloneDX 1.6 ML-BOM (JSON) for a bundle: model card, datasets, hashes, licenses, base model."""
        from trustaudit.cli import run_guarded
        from trustaudit.lineage.bom import write_bom

        rep = None
        if report is not None:
            from trustaudit.api import load_report

            rep = run_guarded(load_report, report)
        text, path = run_guarded(write_bom, bundle, out, report=rep, validate=not no_validate)
        if path is None:
            typer.echo(text, nl=False)
        else:
            typer.echo(f"wrote {path}", err=True)

    @app.command("verify-attestation")
    def verify_attestation(
        bundle: Annotated[Path, typer.Argument(help="Bundle directory whose files should be the audited ones")],
        attestation: Annotated[Path, typer.Argument(
            help="attestation.intoto.json written by 'trustaudit audit' (either order)")],
        key: Annotated[Path | None, typer.Option(
            "--key", "-k", help="The signer's PEM public key: the attestation must be a DSSE envelope it signed")
        ] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="report.json (default: beside the attestation)")
        ] = None,
    ) -> None:
        """Check an audit's attestation: its signature (with --key), that the bundle's files are the audited ones
        and that report.json is the one attested. Exit 0 ok, 1 something changed (named), 2 bad input."""
        from trustaudit.cli import fail_input, run_guarded
        from trustaudit.lineage.attestation import check_attestation

        # BUNDLE ATTESTATION; the older order ATTESTATION BUNDLE is accepted too (the bundle is the directory)
        if attestation.is_dir() and not bundle.is_dir():
            bundle, attestation = attestation, bundle
        statement = attestation
        if not bundle.is_dir():
            fail_input(f"bundle {bundle} is not a directory")
        res = run_guarded(check_attestation, statement, bundle, report, key=key)
        if res.problems:
            for p in res.problems:
                typer.echo(f"changed: {p}", err=True)
            raise typer.Exit(1)
        if res.signature_checked:
            typer.echo(f"ok: signature by {key} verified; {bundle} and the report match {statement}")
        else:
            if res.signed:
                typer.echo("warning: the attestation is signed but its signature was NOT checked: pass --key PUB.pem",
                           err=True)
            else:
                typer.echo("warning: the attestation is unsigned: it proves the files match it, not who wrote it",
                           err=True)
            typer.echo(f"ok: {bundle} and the report match {statement}")

    @app.command("keygen")
    def keygen(
        private: Annotated[Path, typer.Argument(help="Write the private key here (PKCS#8 PEM, mode 0600)")],
        public: Annotated[Path | None, typer.Option(
            "--public", help="Write the public key here (default: PRIVATE with .pub.pem)")] = None,
        kind: Annotated[str, typer.Option(
            "--type", help="ed25519 (attestations) or ecdsa (P-256; also for OpenSSF model-signing)")] = "ed25519",
    ) -> None:
        """Create a key pair for 'trustaudit audit --sign-key' (and 'verify-attestation --key')."""
        from trustaudit.cli import run_guarded
        from trustaudit.lineage.signing import generate_keypair

        pub = public if public is not None else private.with_name(private.name.removesuffix(".pem") + ".pub.pem")
        fp = run_guarded(generate_keypair, private, pub, kind)
        typer.echo(f"wrote {private} (private: keep it secret) and {pub} (public: {fp})")
