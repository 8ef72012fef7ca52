"""Server-side web pages for reviewers (Jinja2, autoescaped; no JavaScript build).

Login with an API token: the server sets a signed session cookie (HttpOnly, SameSite=Strict) that names the
token and carries a CSRF secret; every form posts that secret back. The token itself is never stored in the
cookie, and revoking the token ends its sessions.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import distinct, select

from trustaudit.service import queue
from trustaudit.service.auth import allows, lookup
from trustaudit.service.charts import legend, trend_svg
from trustaudit.service.db import ApiToken, Job, as_utc
from trustaudit.service.deps import SessionDep
from trustaudit.service.history import history
from trustaudit.service.jobs import accept_bundle, query_jobs
from trustaudit.service.openness import catalog, openness_from_upload
from trustaudit.service.problems import ProblemError
from trustaudit.service.rendering import REPORT_FILES, out_dir
from trustaudit.service.sessions import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    read_session,
    serializer,
    session_token,
)

HERE = Path(__file__).parent

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["dt"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC") if d else ""
templates.env.filters["num"] = lambda v: "" if v is None else (f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}")
templates.env.filters["urlq"] = lambda v: quote(str(v), safe="")


def static_app() -> StaticFiles:
    return StaticFiles(directory=str(HERE / "static"))


class LoginRequired(Exception):
    pass


def web_user(request: Request, s: SessionDep) -> ApiToken:
    row = session_token(request, s)
    if row is None:
        raise LoginRequired()
    return row


User = Annotated[ApiToken, Depends(web_user)]


def check_csrf(request: Request, sent: str | None) -> None:
    data = read_session(request) or {}
    expected = data.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise ProblemError(403, "csrf", "the form's CSRF token is missing or wrong; reload the page and try again")


def render(request: Request, template: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    data = read_session(request) or {}
    ctx.setdefault("csrf", data.get("csrf", ""))
    ctx.setdefault("user", ctx.get("user"))
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def _set_cookie(request: Request, resp: Response, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                    secure=request.url.scheme == "https")


# --------------------------------------------------------------------------------------------- login


@router.get("/", response_class=HTMLResponse)
def index(request: Request, s: SessionDep) -> Response:
    return RedirectResponse("/audits" if session_token(request, s) else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> Response:
    pre = secrets.token_urlsafe(24)
    resp = render(request, "login.html", csrf=pre, error=error)
    _set_cookie(request, resp, PRELOGIN_COOKIE, pre, 1800)
    return resp


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, s: SessionDep, token: Annotated[str, Form(max_length=300)] = "",
          csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    pre = request.cookies.get(PRELOGIN_COOKIE, "")
    if not pre or not csrf or not hmac.compare_digest(pre, csrf):
        return render(request, "login.html", status_code=403, csrf="",
                      error="The login form expired; reload the page and try again.")
    row = lookup(s, token.strip())
    if row is None:
        return render(request, "login.html", status_code=401, csrf=pre, error="Unknown or revoked token.")
    session = serializer(request).dumps({"tid": row.id, "csrf": secrets.token_urlsafe(24)})
    redirect = RedirectResponse("/audits", status_code=303)
    _set_cookie(request, redirect, SESSION_COOKIE, session, SESSION_MAX_AGE)
    redirect.delete_cookie(PRELOGIN_COOKIE, path="/")
    return redirect


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --------------------------------------------------------------------------------------------- audits


@router.get("/audits", response_class=HTMLResponse)
def audits_page(request: Request, s: SessionDep, user: User, model: str | None = None,
                version: str | None = None, verdict: str | None = None, state: str | None = None,
                page: int = 1) -> Response:
    page = max(1, min(page, 10**6))
    limit = 25
    verdict = verdict if verdict in ("pass", "warn", "fail", "error") else None
    state = state if state in ("queued", "running", "done", "failed", "cancelled") else None
    rows, total = query_jobs(s, model=model or None, version=version or None, verdict=verdict, state=state,
                             limit=limit, offset=(page - 1) * limit)
    models = sorted(s.scalars(select(distinct(Job.model_name))))
    filters = {k: v for k, v in {"model": model, "version": version, "verdict": verdict, "state": state}.items() if v}
    pages = max(1, (total + limit - 1) // limit)
    active = any(j.state in ("queued", "running") for j in rows)
    return render(request, "audits.html", user=user, jobs=rows, total=total, page=page, pages=pages,
                  filters=filters, models=models, qs=lambda **kw: urlencode({**filters, **kw}),
                  can_submit=allows(user.scope, "submit"), refresh=active)


@router.post("/audits", response_class=HTMLResponse)
def submit_page(request: Request, s: SessionDep, user: User,
                bundle: Annotated[UploadFile, File()],
                csrf: Annotated[str, Form(max_length=200)] = "",
                checks: Annotated[str, Form(max_length=1000)] = "",
                rubric: Annotated[str, Form(max_length=200)] = "",
                seed: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0) -> Response:
    check_csrf(request, csrf)
    if not allows(user.scope, "submit"):
        raise ProblemError(403, "forbidden", f"your token has scope '{user.scope}'; submitting needs 'submit'")
    patterns = [c.strip() for c in checks.replace(",", " ").split() if c.strip()] or None
    try:
        job = accept_bundle(request, s, bundle, checks=patterns, rubric=rubric.strip() or None, seed=seed,
                            params={}, token=user)
    except ProblemError as exc:
        rows, total = query_jobs(s, limit=25)
        return render(request, "audits.html", status_code=exc.status, user=user, jobs=rows, total=total, page=1,
                      pages=max(1, (total + 24) // 25), filters={}, models=[], qs=lambda **kw: urlencode(kw),
                      can_submit=True, refresh=False, submit_error=exc.detail)
    return RedirectResponse(f"/audits/{job.id}", status_code=303)


@router.get("/audits/{audit_id}", response_class=HTMLResponse)
def audit_page(audit_id: str, request: Request, s: SessionDep, user: User) -> Response:
    job = s.get(Job, audit_id) if len(audit_id) <= 64 else None
    if job is None:
        return render(request, "error.html", status_code=404, user=user, message=f"No audit with id {audit_id}.")
    report = None
    artefacts: list[str] = []
    if job.state == "done":
        out = out_dir(job, request.app.state.settings.data_dir)
        if out is not None and (out / "report.json").is_file():
            report = json.loads((out / "report.json").read_text())
            artefacts = [a.split("/", 1)[1] for a in job.artifacts or [] if not a.endswith("/report.json")]
    return render(request, "audit.html", user=user, job=job, report=report, files=list(REPORT_FILES),
                  artefacts=artefacts, refresh=job.state in ("queued", "running"),
                  can_submit=allows(user.scope, "submit"))


@router.post("/audits/{audit_id}/cancel")
def cancel_page(audit_id: str, request: Request, s: SessionDep, user: User,
                csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf)
    if not allows(user.scope, "submit"):
        raise ProblemError(403, "forbidden", "cancelling needs a token with scope 'submit'")
    job = s.get(Job, audit_id) if len(audit_id) <= 64 else None
    if job is not None and job.state in ("queued", "running"):
        queue.cancel(s, job)
    return RedirectResponse(f"/audits/{audit_id}", status_code=303)


# --------------------------------------------------------------------------------------------- models


def _short_subject(subject: str) -> str:
    return subject.split(":", 1)[-1].strip() if ":" in subject else subject


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, s: SessionDep, user: User) -> Response:
    rows = s.execute(select(Job.model_name, Job.model_version, Job.verdict, Job.finished_at)
                     .where(Job.state == "done").order_by(Job.finished_at.desc())).all()
    models: dict[str, dict[str, Any]] = {}
    for name, ver, verdict, fin in rows:
        m = models.setdefault(name, {"name": name, "versions": set(), "latest": ver, "verdict": verdict,
                                     "finished": fin})
        m["versions"].add(ver)
    return render(request, "models.html", user=user, models=sorted(models.values(), key=lambda m: m["name"]))


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(name: str, request: Request, s: SessionDep, user: User, all_subjects: bool = False) -> Response:
    try:
        h = history(s, name)
    except ProblemError:
        return render(request, "error.html", status_code=404, user=user,
                      message=f"No finished audit of model {name}.")
    grouped: dict[tuple[str, str], list[Any]] = {}
    for ser in h.series:
        if not all_subjects and "*" in ser.subject.split(":", 1)[0]:
            continue  # intersections: shown with ?all_subjects=1
        grouped.setdefault((ser.check_id, ser.metric), []).append(ser)
    charts = []
    plotted: set[str] = set()
    for (cid, metric), sers in sorted(grouped.items()):
        plotted.update(p.version for x in sers[:8] for p in x.points
                       if p.value is not None and math.isfinite(p.value))
        data = [{"label": _short_subject(x.subject) or metric,
                 "points": [p.model_dump() for p in x.points]} for x in sers[:8]]
        svg = trend_svg(f"{metric} ({cid})", h.versions, data, bounds=_audit_bounds(sers, h.versions))
        latest = [(x.subject, x.points[-1]) for x in sers if x.points]
        charts.append({"check": cid, "metric": metric, "svg": svg, "legend": legend(data), "latest": latest,
                       "hidden": max(0, len(sers) - 8)})
    # every audited version is listed with its verdict; the ones without a point in these charts are named
    unplotted = [a for a in h.audits if a.version not in plotted]
    return render(request, "model.html", user=user, name=name, history=h, charts=charts,
                  all_subjects=all_subjects, unplotted=unplotted, plotted=len(h.versions) - len(unplotted))


def _audit_bounds(series: list[Any], versions: list[str]) -> dict[str, list[float]]:
    """Per version, the bounds of the rubric condition that version's audit was judged with (stored with each
    point), so a rubric change shows as a moved bound instead of the default rubric drawn over every audit."""
    out: dict[str, list[float]] = {}
    for ser in series:
        for p in ser.points:
            for b in (p.bound_low, p.bound_high):
                if b is not None and b not in out.setdefault(p.version, []):
                    out[p.version].append(b)
    return {v: out[v] for v in versions if out.get(v)}


# --------------------------------------------------------------------------------------------- openness

_SORTS = {"model": lambda r: (r.model_name.lower(), r.model_version),
          "class": lambda r: (-r.class_rank, -r.total_progress),
          "progress": lambda r: (-r.total_progress, r.model_name.lower()),
          "date": lambda r: (-(as_utc(r.created_at).timestamp()),)}  # type: ignore[union-attr]


@router.get("/openness", response_class=HTMLResponse)
def openness_page(request: Request, s: SessionDep, user: User, sort: str = "class",
                  error: str | None = None) -> Response:
    rows = catalog(s, latest=True)
    key = sort if sort in _SORTS else "class"
    rows.sort(key=_SORTS[key])
    return render(request, "openness.html", user=user, rows=rows, sort=key,
                  can_submit=allows(user.scope, "submit"), error=error)


@router.post("/openness", response_class=HTMLResponse)
def openness_submit(request: Request, s: SessionDep, user: User, file: Annotated[UploadFile, File()],
                    csrf: Annotated[str, Form(max_length=200)] = "",
                    name: Annotated[str, Form(max_length=200)] = "",
                    version: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, csrf)
    if not allows(user.scope, "submit"):
        raise ProblemError(403, "forbidden", "scoring needs a token with scope 'submit'")
    try:
        openness_from_upload(s, file, name=name or None, version=version or None, cap=2 * 1024 * 1024)
    except ProblemError as exc:
        return openness_page(request, s, user, error=exc.detail)
    return RedirectResponse("/openness", status_code=303)


# --------------------------------------------------------------------------------------------- /docs

DOCS_STATIC = "/static-docs"


def docs_static_dir() -> Path:
    """Swagger UI 5 files shipped in the ``fastapi-offline`` wheel (the service extra): served from here, so
    ``/docs`` works offline and loads no script from a CDN."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: Any) -> None:
    """``/docs``: FastAPI's Swagger UI page, its script and stylesheet served locally (:func:`docs_static_dir`)
    and its one inline script allowed by hash in the page's Content-Security-Policy (every other page keeps
    ``default-src 'self'``). Create the app with ``docs_url=None, redoc_url=None``."""
    import base64
    import hashlib
    import re

    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount(DOCS_STATIC, StaticFiles(directory=str(docs_static_dir())), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        )
        html = bytes(page.body).decode("utf-8")
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"
            for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S))
        return HTMLResponse(html, headers={"Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' {hashes}; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")})


def install_login_redirect(app: Any) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)
