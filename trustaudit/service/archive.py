"""Safe extraction of an uploaded bundle archive (.tar.gz, .tgz, .tar or .zip) into a job folder.

Refused, with a message naming the member: absolute paths, ``..`` segments, links (symbolic or hard), device
files, too many members, a total uncompressed size over the cap, a compression ratio over the cap (bombs),
and archives that cannot be read. Nothing is ever written outside ``dest``: every member path is checked before
anything is written, and files are created with ``O_EXCL`` under directories we created ourselves.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO


class ArchiveError(Exception):
    """The upload is not an acceptable archive; ``kind`` names the problem (used in problem+json types)."""

    def __init__(self, kind: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 200.0
    max_members: int = 10_000


def _check_name(name: str) -> PurePosixPath:
    raw = name.replace("\\", "/")
    if not raw or raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ArchiveError("unsafe-path", f"archive member '{name}' has an absolute path")
    p = PurePosixPath(raw)
    if any(part == ".." for part in p.parts):
        raise ArchiveError("unsafe-path", f"archive member '{name}' contains '..' and would escape the job folder")
    if "\x00" in raw:
        raise ArchiveError("unsafe-path", "archive member name contains a NUL byte")
    parts = [x for x in p.parts if x not in (".", "")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _strip_common_root(names: list[PurePosixPath]) -> int:
    """How many leading components to drop: 1 when every member sits under one top folder without a manifest."""
    files = [n for n in names if str(n) != "."]
    if not files:
        return 0
    if any(str(n) == "trustaudit.yaml" for n in files):
        return 0
    tops = {n.parts[0] for n in files}
    if len(tops) == 1 and any(len(n.parts) > 1 for n in files):
        return 1
    return 0


def _write(dest: Path, rel: PurePosixPath, src: IO[bytes], budget: list[int], limits: Limits) -> None:
    target = dest.joinpath(*rel.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the parent chain is ours (created above, never a link): refuse anything that resolves elsewhere
    if dest.resolve() not in target.parent.resolve().parents and target.parent.resolve() != dest.resolve():
        raise ArchiveError("unsafe-path", f"archive member '{rel}' would escape the job folder")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            budget[0] += len(chunk)
            if budget[0] > limits.max_total_bytes:
                raise ArchiveError("archive-too-large",
                                   f"the archive expands to more than {limits.max_total_bytes} bytes", 413)
            out.write(chunk)


def extract(archive: Path, dest: Path, limits: Limits = Limits()) -> None:
    """Extract ``archive`` into the (empty or new) directory ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    compressed = max(archive.stat().st_size, 1)
    with archive.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        _extract_zip(archive, dest, limits, compressed)
    else:
        _extract_tar(archive, dest, limits, compressed)


def _declared_checks(total: int, count: int, compressed: int, limits: Limits) -> None:
    if count > limits.max_members:
        raise ArchiveError("too-many-members", f"the archive has {count} members (limit {limits.max_members})", 413)
    if total > limits.max_total_bytes:
        raise ArchiveError("archive-too-large",
                           f"the archive expands to {total} bytes (limit {limits.max_total_bytes})", 413)
    if total > 1024 * 1024 and total / compressed > limits.max_ratio:
        raise ArchiveError("archive-bomb", f"the archive expands {total / compressed:.0f}x "
                           f"(limit {limits.max_ratio:.0f}x); refusing a likely decompression bomb", 413)


def _extract_zip(archive: Path, dest: Path, limits: Limits, compressed: int) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError("malformed-archive", f"the upload is not a readable zip archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        names = []
        total = 0
        for info in infos:
            rel = _check_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveError("link-member", f"archive member '{info.filename}' is a symbolic link; "
                                   "links are not allowed in uploaded bundles")
            names.append(rel)
            total += info.file_size
        _declared_checks(total, len(infos), compressed, limits)
        strip = _strip_common_root(names)
        budget = [0]
        try:
            for info, rel in zip(infos, names):
                parts = rel.parts[strip:]
                if not parts:
                    continue
                if info.is_dir():
                    dest.joinpath(*parts).mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as src:
                    _write(dest, PurePosixPath(*parts), src, budget, limits)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
            if isinstance(exc, FileExistsError):
                raise ArchiveError("malformed-archive", f"the archive holds '{exc.filename}' twice") from None
            raise ArchiveError("malformed-archive", f"the zip archive is corrupt: {exc}") from None


def _extract_tar(archive: Path, dest: Path, limits: Limits, compressed: int) -> None:
    try:
        tf = tarfile.open(archive, mode="r:*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError("malformed-archive",
                           f"the upload is not a readable .tar.gz or .zip archive ({type(exc).__name__})") from None
    with tf:
        try:
            members = []
            total = 0
            for m in tf:
                members.append(m)
                if len(members) > limits.max_members:
                    raise ArchiveError("too-many-members",
                                       f"the archive has more than {limits.max_members} members", 413)
                rel = _check_name(m.name)
                if m.issym() or m.islnk():
                    raise ArchiveError("link-member", f"archive member '{m.name}' is a "
                                       f"{'symbolic' if m.issym() else 'hard'} link; links are not allowed")
                if not (m.isfile() or m.isdir()):
                    raise ArchiveError("special-member", f"archive member '{m.name}' is not a regular file")
                total += m.size
                if total > limits.max_total_bytes:
                    raise ArchiveError("archive-too-large",
                                       f"the archive expands to more than {limits.max_total_bytes} bytes", 413)
                del rel
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as exc:
            raise ArchiveError("malformed-archive", f"the tar archive is corrupt ({type(exc).__name__})") from None
        _declared_checks(total, len(members), compressed, limits)
        names = [_check_name(m.name) for m in members]
        strip = _strip_common_root(names)
        budget = [0]
        try:
            for m, rel in zip(members, names):
                parts = rel.parts[strip:]
                if not parts:
                    continue
                if m.isdir():
                    dest.joinpath(*parts).mkdir(parents=True, exist_ok=True)
                    continue
                src = tf.extractfile(m)
                if src is None:
                    raise ArchiveError("special-member", f"archive member '{m.name}' cannot be read")
                with src:
                    _write(dest, PurePosixPath(*parts), src, budget, limits)
        except FileExistsError as exc:
            raise ArchiveError("malformed-archive", f"the archive holds '{exc.filename}' twice") from None
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as exc:
            raise ArchiveError("malformed-archive", f"the tar archive is corrupt ({type(exc).__name__})") from None


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
