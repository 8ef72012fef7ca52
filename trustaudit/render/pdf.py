"""PDF rendering through WeasyPrint, with a URL fetcher that never reaches the network.

:class:`ReportFetcher` serves ``data:`` URIs (charts, inlined artefacts) and ``file:`` URLs of regular files
inside the report directory; it refuses everything else (http, https, ftp, files outside the report
directory) and records what it refused. WeasyPrint then renders without the refused resource and logs a warning.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from trustaudit.render.html import render_html
from trustaudit.results import AuditReport

log = logging.getLogger("trustaudit.render")


def _fetcher_base() -> Any:
    from weasyprint.urls import URLFetcher

    return URLFetcher


def make_fetcher(report_dir: str | Path | None) -> Any:
    """A WeasyPrint URL fetcher that serves only ``data:`` URIs and the report's own files."""
    from weasyprint.urls import URLFetcherResponse

    base = _fetcher_base()

    class ReportFetcher(base):  # type: ignore[misc, valid-type]
        def __init__(self, root: Path | None) -> None:
            super().__init__(allowed_protocols=["data", "file"], fail_on_errors=False)
            self.root = root.resolve() if root is not None else None
            self.served: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == "data":
                media_type, body = _decode_data_url(url)
                self.served.append(url[:64])
                return URLFetcherResponse(url, body, {"Content-Type": media_type})
            if scheme == "file" and self.root is not None:
                path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
                try:
                    real = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    real = None
                if real is not None and real.is_relative_to(self.root) and real.is_file():
                    self.served.append(url)
                    media_type = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, real.read_bytes(), {"Content-Type": media_type})
            self.refused.append(url)
            log.warning("refused to fetch %s: a report only loads its own files", url)
            raise ValueError(f"refused to fetch {url}: a report only loads its own files")

    return ReportFetcher(Path(report_dir) if report_dir is not None else None)


def _decode_data_url(url: str) -> tuple[str, bytes]:
    header, _, payload = url[5:].partition(",")
    parts = header.split(";")
    media_type = parts[0] or "text/plain"
    if "base64" in parts[1:]:
        return media_type, base64.b64decode(payload)
    return media_type, urllib.parse.unquote_to_bytes(payload)


def html_to_pdf(html: str, *, report_dir: str | Path | None = None, fetcher: Any = None) -> bytes:
    """WeasyPrint ``HTML -> PDF`` with the report fetcher (created for ``report_dir`` unless given)."""
    from weasyprint import HTML

    fetcher = fetcher if fetcher is not None else make_fetcher(report_dir)
    base_url = Path(report_dir).resolve().as_uri() + "/" if report_dir is not None else None
    doc = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    pdf = doc.write_pdf()
    assert pdf is not None
    return bytes(pdf)


def render_pdf(report: AuditReport, *, report_dir: str | Path | None = None,
               template_dir: str | Path | None = None, fetcher: Any = None) -> bytes:
    """The report as a PDF: title page, contents, running header (model, version, digest), footer (report id)."""
    html = render_html(report, report_dir=report_dir, template_dir=template_dir, mode="pdf")
    return html_to_pdf(html, report_dir=report_dir, fetcher=fetcher)
