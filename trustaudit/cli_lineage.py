"""``trustaudit bom`` (CycloneDX 1.6 ML-BOM of a bundle) and ``trustaudit verify-attestation``.

Registered by :mod:`trustaudit.cli`; everything heavy (cyclonedx-python-lib, pandas) is imported inside the
commands so ``trustaudit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``bom`` and ``verify-attestation`` commands to ``app``."""

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
        statement: Annotated[Path, typer.Argument(help="attestation.intoto.json written by 'trustaudit audit'")],
        bundle: Annotated[Path, typer.Argument(help="Bundle directory whose files should be the audited ones")],
        report: Annotated[
            Path | None, typer.Option("--report", help="report.json (default: beside the attestation)")
        ] = None,
    ) -> None:
        """Check that a bundle's files and report.json are the ones an audit attested. Exit 0 ok, 1 mismatch."""
        from trustaudit.cli import run_guarded
        from trustaudit.lineage.attestation import verify_attestation as verify

        problems = run_guarded(verify, statement, bundle, report)
        if problems:
            for p in problems:
                typer.echo(f"mismatch: {p}", err=True)
            raise typer.Exit(1)
        typer.echo(f"ok: {bundle} matches {statement}")
