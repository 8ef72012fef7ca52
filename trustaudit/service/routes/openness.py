"""``/v1/openness``: score a release against the Model Openness Framework, the catalog, and its badges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from trustaudit.service.db import ApiToken, OpennessScore
from trustaudit.service.deps import SessionDep, require
from trustaudit.service.openness import catalog, openness_from_upload, openness_out
from trustaudit.service.problems import ProblemError
from trustaudit.service.schemas import OpennessEntry

router = APIRouter()


@router.post("/openness", status_code=201, response_model=OpennessEntry, tags=["openness"])
def post_openness(
    request: Request,
    s: SessionDep,
    _t: Annotated[ApiToken, Depends(require("submit"))],
    file: Annotated[UploadFile, File(description="A MOT model.yml or a Hugging Face model card (README.md)")],
    name: Annotated[str | None, Form(max_length=200)] = None,
    version: Annotated[str | None, Form(max_length=100)] = None,
) -> OpennessEntry:
    """Score a model release against the Model Openness Framework and add it to the catalog."""
    return openness_from_upload(s, file, name=name, version=version,
                                cap=min(request.app.state.settings.max_upload_bytes, 2 * 1024 * 1024))


@router.get("/openness", response_model=list[OpennessEntry], tags=["openness"])
def list_openness(s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))],
                  latest: bool = True) -> list[OpennessEntry]:
    """The openness catalog: the latest score of every model (``latest=false``: every score)."""
    return [openness_out(r) for r in catalog(s, latest)]


@router.get("/openness/{score_id}/badge.svg", tags=["openness"],
            responses={200: {"content": {"image/svg+xml": {}}, "description": "SVG badge"}})
def openness_badge(score_id: int, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> Response:
    """A shields-style SVG badge of the model's MOF class."""
    from trustaudit.openness.badge import badge_svg

    row = s.get(OpennessScore, score_id) if 0 <= score_id < 2**62 else None
    if row is None:
        raise ProblemError(404, "not-found", f"no openness score {score_id}")
    return Response(badge_svg(row.mof_class, progress=row.total_progress), media_type="image/svg+xml")
