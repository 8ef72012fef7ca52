"""Openness catalog: score an uploaded MOT model.yml or Hugging Face card and keep the result.

The workers store the scores of audited bundles here too (``store_result``), so this module imports no web
framework at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustaudit.service.db import OpennessScore, as_utc, utcnow
from trustaudit.service.schemas import OpennessEntry

if TYPE_CHECKING:
    from fastapi import UploadFile


def score_upload(text: str, filename: str) -> Any:
    """Score the text of a MOT ``model.yml`` or a model card (Markdown with YAML front matter)."""
    from trustaudit.openness import load_mot_text, score_openness
    from trustaudit.openness.errors import OpennessInputError
    from trustaudit.openness.io import declaration_from_card_meta, load_yaml, split_front_matter

    front = split_front_matter(text)
    if filename.lower().endswith(".md") or front is not None:
        if front is None:
            raise OpennessInputError(f"{filename} has no YAML front matter (a '---' block at the top)")
        meta = load_yaml(front, f"{filename} (front matter)") or {}
        if not isinstance(meta, dict):
            raise OpennessInputError(f"{filename}: the front matter must be a YAML mapping")
        stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "model"
        decl = declaration_from_card_meta(meta, source=filename, default_name=str(meta.get("model_name") or stem))
    else:
        decl = load_mot_text(text, source=filename)
    return score_openness(decl)


def store_result(s: Session, result: Any, *, name: str | None = None, version: str | None = None,
                 source: str = "upload", job_id: str | None = None) -> OpennessScore:
    row = OpennessScore(
        model_name=(name or result.model_name or "unnamed")[:200],
        model_version=(version or result.model_version or "")[:100],
        mof_class=result.mof_class, class_label=result.class_label, class_rank=result.class_rank,
        total_progress=result.total_progress, progress=dict(result.progress),
        result=result.model_dump(mode="json"), source=source, job_id=job_id, created_at=utcnow(),
    )
    s.add(row)
    s.commit()
    return row


def catalog(s: Session, latest: bool = True) -> list[OpennessScore]:
    rows = list(s.scalars(select(OpennessScore).order_by(OpennessScore.created_at.desc(), OpennessScore.id.desc())))
    if not latest:
        return rows
    seen: dict[tuple[str, str], OpennessScore] = {}
    for r in rows:
        seen.setdefault((r.model_name, r.model_version), r)
    return list(seen.values())


def openness_out(row: OpennessScore) -> OpennessEntry:
    return OpennessEntry(id=row.id, model=row.model_name, version=row.model_version, mof_class=row.mof_class,
                         class_label=row.class_label, class_rank=row.class_rank,
                         total_progress=row.total_progress, progress=row.progress, source=row.source,
                         created_at=as_utc(row.created_at), badge=f"/v1/openness/{row.id}/badge.svg")


def openness_from_upload(s: Session, file: UploadFile, *, name: str | None, version: str | None,
                         cap: int) -> OpennessEntry:
    from trustaudit.errors import TrustAuditError
    from trustaudit.service.problems import ProblemError

    raw = file.file.read(cap + 1)
    if len(raw) > cap:
        raise ProblemError(413, "upload-too-large", f"the declaration exceeds {cap} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(422, "invalid-declaration", "the file is not UTF-8 text") from None
    try:
        result = score_upload(text, file.filename or "model.yml")
    except TrustAuditError as exc:
        raise ProblemError(422, "invalid-declaration", exc.one_line()) from None
    return openness_out(store_result(s, result, name=name or None, version=version or None))
