"""ASGI middleware of the service: the request-body cap, and security headers, timing and request counts."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from trustaudit.service.problems import ProblemError, problem_response


class BodyLimit:
    """ASGI middleware: refuse request bodies over the cap before they are spooled to disk."""

    def __init__(self, app: Any, cap: int) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cl = headers.get(b"content-length")
        if cl is not None and cl.isdigit() and int(cl) > self.cap:
            resp = problem_response(413, "upload-too-large",
                                    f"the request body is {int(cl)} bytes; the limit is {self.cap}")
            await resp(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.cap:
                    raise ProblemError(413, "upload-too-large", f"the request body exceeds {self.cap} bytes")
            return msg

        await self.app(scope, limited, send)


def install_headers(app: FastAPI, requests_total: Any) -> None:
    """Security headers on every response (a CSP and frame denial on HTML), Server-Timing, and the
    ``trustaudit_http_requests`` counter by method and status."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        requests_total.labels(request.method, str(response.status_code)).inc()
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}"
        return response
