"""RFC 9457 problem+json responses. Clients get a type, a title and a one-line detail, never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("trustaudit.service")
TYPE_BASE = "https://trustaudit.dev/problems/"


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description="URI naming the kind of problem")
    title: str
    status: int
    detail: str = ""
    instance: str | None = None


class ProblemError(Exception):
    def __init__(self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers


def problem_response(status: int, kind: str, detail: str, instance: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


_KIND_BY_STATUS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                   405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 413: "too-large",
                   415: "unsupported-media-type", 422: "invalid-request", 429: "too-many-requests"}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": HTTPStatus(code).phrase,
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for code in (400, 401, 403, 404, 422)
}


def install(app: Any) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.kind, exc.detail, str(request.url.path), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _KIND_BY_STATUS.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(exc.status_code, kind, detail, str(request.url.path),
                                getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        parts = []
        for e in errs[:3]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return problem_response(422, "invalid-request", "; ".join(parts) or "invalid request",
                                str(request.url.path))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "internal-error",
                                "the server failed to handle this request; the error was logged",
                                str(request.url.path))
