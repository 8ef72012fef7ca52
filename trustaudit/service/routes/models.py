"""``/v1/models``: a model's history across its audited versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from trustaudit.service.db import ApiToken
from trustaudit.service.deps import SessionDep, require
from trustaudit.service.history import history
from trustaudit.service.schemas import ModelHistory

router = APIRouter()


@router.get("/models/{name}/history", response_model=ModelHistory, tags=["models"])
def model_history(name: str, s: SessionDep, _t: Annotated[ApiToken, Depends(require("read"))]) -> ModelHistory:
    """Each headline metric (every rubric-judged metric and subject) across the model's versions, with its
    interval, versions in release order. When a version was audited several times, its latest audit counts."""
    return history(s, name)
