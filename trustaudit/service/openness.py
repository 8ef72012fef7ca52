"""Openness catalog: score an uploaded MOT model.yml or Hugging Face card and keep the result."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from trustaudit.service.db import OpennessScore, utcnow


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
