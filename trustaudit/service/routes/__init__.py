"""The REST API's routes, one module per resource: ``api`` (everything under ``/v1``) and ``ops`` (health and
metrics, outside ``/v1`` and without a token)."""

from __future__ import annotations

from fastapi import APIRouter

from trustaudit.service.problems import PROBLEM_RESPONSES
from trustaudit.service.routes import audits, models, openness
from trustaudit.service.routes.ops import router as ops

api = APIRouter(prefix="/v1", responses={**PROBLEM_RESPONSES})
api.include_router(audits.router)
api.include_router(models.router)
api.include_router(openness.router)

__all__ = ["api", "ops"]
