"""Reading a report's own artefact files safely (for inlining into HTML and PDF).

An artefact is referenced from report.json by a path relative to the report directory. Only regular files
inside that directory are read (no absolute paths, no ``..`` escapes, no symlinks leading out, no URLs), up to
a size limit. SVG is parsed and stripped of anything active or external (scripts, event handlers,
``foreignObject``, external links and stylesheets) before it is inlined as an image data URI.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_BYTES = 5_000_000
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_BANNED_TAGS = {"script", "foreignobject", "iframe", "embed", "object", "audio", "video", "handler", "listener"}
_SAFE_HREF = re.compile(r"^(#|data:image/(png|jpeg|gif|webp);base64,)", re.IGNORECASE)
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}


@dataclass(frozen=True)
class ArtifactView:
    """An artefact as a report shows it: an inline image (``data_uri``) or a listed file (``note`` says why)."""

    path: str
    title: str
    media_type: str
    data_uri: str | None = None
    note: str | None = None


def resolve(report_dir: Path | None, rel: str) -> Path | None:
    """The artefact's file when ``rel`` names a regular file inside ``report_dir``; otherwise None."""
    if report_dir is None or not rel or "\x00" in rel or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", rel):
        return None
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        return None
    root = report_dir.resolve()
    try:
        path = (root / Path(*pure.parts)).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def sanitize_svg(data: bytes) -> str | None:
    """A cleaned copy of an SVG document, or None when it is not well-formed SVG or declares entities."""
    if b"<!ENTITY" in data or b"<!entity" in data:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if _local(root.tag) != "svg":
        return None
    for parent in list(root.iter()):
        for child in list(parent):
            name = _local(child.tag)
            text = child.text or ""
            external_css = name == "style" and ("@import" in text or _EXTERNAL_URL.search(text) is not None)
            if not isinstance(child.tag, str) or name in _BANNED_TAGS or external_css:
                parent.remove(child)
    for el in root.iter():
        for attr in list(el.attrib):
            name = _local(attr)
            value = el.attrib[attr]
            unsafe_href = name == "href" and not _SAFE_HREF.match(value.strip())
            external_url = _EXTERNAL_URL.search(value) is not None
            if name.startswith("on") or unsafe_href or external_url:
                del el.attrib[attr]
    for parent in list(root.iter()):  # an image or use element left without a (safe) link draws nothing
        for child in list(parent):
            if _local(child.tag) in ("image", "use") and not any(_local(a) == "href" for a in child.attrib):
                parent.remove(child)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(root, encoding="unicode")


def load(report_dir: Path | None, path: str, media_type: str, title: str) -> ArtifactView:
    """Read one artefact for inlining; images become data URIs, anything else is listed by path."""
    file = resolve(report_dir, path)
    if report_dir is None:
        return ArtifactView(path, title, media_type, note="not inlined: no report directory given")
    if file is None:
        return ArtifactView(path, title, media_type, note="not found inside the report directory")
    if not media_type.startswith("image/"):
        return ArtifactView(path, title, media_type, note="file beside report.json")
    size = file.stat().st_size
    if size > MAX_BYTES:
        return ArtifactView(path, title, media_type, note="not inlined: larger than the size limit")
    data = file.read_bytes()
    if media_type == "image/svg+xml" or path.lower().endswith(".svg"):
        clean = sanitize_svg(data)
        if clean is None:
            return ArtifactView(path, title, media_type, note="not inlined: not a well-formed SVG")
        uri = "data:image/svg+xml;base64," + base64.b64encode(clean.encode("utf-8")).decode("ascii")
        return ArtifactView(path, title, "image/svg+xml", data_uri=uri)
    magic = _MAGIC.get(media_type)
    if magic is None or not data.startswith(magic):
        return ArtifactView(path, title, media_type, note="not inlined: unsupported or mismatched image type")
    return ArtifactView(path, title, media_type,
                        data_uri=f"data:{media_type};base64," + base64.b64encode(data).decode("ascii"))
