"""Safe archive extraction: every escape, link, bomb and malformed archive is refused before writing outside."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from trustaudit.service.archive import ArchiveError, Limits, extract


def _tar(path: Path, members: list[tuple[str, bytes | None, str]]) -> Path:
    """members: (name, data, kind) with kind file | dir | sym | hard | fifo."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, kind in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data or b"")
                tf.addfile(ti, io.BytesIO(data or b""))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                       "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("sym", "hard"):
                ti.linkname = (data or b"").decode()
            tf.addfile(ti)
    return path


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("members", "kind"), [
    ([("../evil.txt", b"x", "file")], "unsafe-path"),
    ([("ok/../../evil.txt", b"x", "file")], "unsafe-path"),
    ([("/tmp/evil.txt", b"x", "file")], "unsafe-path"),
    ([("link", b"/etc/passwd", "sym")], "link-member"),
    ([("a.txt", b"x", "file"), ("hard", b"a.txt", "hard")], "link-member"),
    ([("pipe", None, "fifo")], "special-member"),
])
def test_tar_escapes_are_refused_and_nothing_is_written_outside(tmp_path: Path, members, kind) -> None:
    arc = _tar(tmp_path / "a.tar.gz", [("trustaudit.yaml", b"x", "file"), *members])
    dest = tmp_path / "job" / "bundle"
    before = _listing(tmp_path)
    with pytest.raises(ArchiveError) as err:
        extract(arc, dest)
    assert err.value.kind == kind
    assert err.value.status == 422
    # checked before anything is written: nothing new anywhere except the (empty) destination folder
    after = _listing(tmp_path)
    assert after - before <= {"job", "job/bundle"}
    assert not any(dest.iterdir())
    assert not Path("/tmp/evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_zip_escape_and_symlink_refused(tmp_path: Path) -> None:
    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("trustaudit.yaml", "x")
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(ArchiveError) as err:
        extract(arc, tmp_path / "d")
    assert err.value.kind == "unsafe-path"
    arc2 = tmp_path / "b.zip"
    with zipfile.ZipFile(arc2, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError) as err:
        extract(arc2, tmp_path / "e")
    assert err.value.kind == "link-member"


def test_bomb_ratio_and_total_caps(tmp_path: Path) -> None:
    zeros = b"\0" * (8 * 1024 * 1024)
    arc = _tar(tmp_path / "bomb.tar.gz", [("trustaudit.yaml", b"x", "file"), ("zeros.bin", zeros, "file")])
    assert arc.stat().st_size < 100_000  # 8 MiB of zeros compress ~1000x
    with pytest.raises(ArchiveError) as err:
        extract(arc, tmp_path / "d", Limits(max_ratio=100))
    assert err.value.kind == "archive-bomb" and err.value.status == 413
    with pytest.raises(ArchiveError) as err:
        extract(arc, tmp_path / "e", Limits(max_total_bytes=1024 * 1024, max_ratio=1e9))
    assert err.value.kind == "archive-too-large"
    zarc = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zarc, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", zeros)
    with pytest.raises(ArchiveError) as err:
        extract(zarc, tmp_path / "f", Limits(max_ratio=100))
    assert err.value.kind == "archive-bomb"
    many = _tar(tmp_path / "many.tar.gz", [(f"f{i}", b"", "file") for i in range(30)])
    with pytest.raises(ArchiveError) as err:
        extract(many, tmp_path / "g", Limits(max_members=10))
    assert err.value.kind == "too-many-members"


@pytest.mark.parametrize("payload", [b"not an archive at all", b"PK\x03\x04garbage", b"\x1f\x8b\x08\x00broken"])
def test_malformed_archives(tmp_path: Path, payload: bytes) -> None:
    arc = tmp_path / "bad.tar.gz"
    arc.write_bytes(payload)
    with pytest.raises(ArchiveError) as err:
        extract(arc, tmp_path / "d")
    assert err.value.kind == "malformed-archive"


def test_truncated_tar_is_malformed(tmp_path: Path) -> None:
    good = _tar(tmp_path / "g.tar.gz", [("trustaudit.yaml", os.urandom(200_000), "file")])
    bad = tmp_path / "t.tar.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ArchiveError) as err:
        extract(bad, tmp_path / "d")
    assert err.value.kind == "malformed-archive"


def test_good_archives_extract_with_single_top_folder_stripped(tmp_path: Path) -> None:
    arc = _tar(tmp_path / "a.tar.gz", [("mybundle/trustaudit.yaml", b"name: x", "file"),
                                       ("mybundle/data/eval.csv", b"a,b\n1,2\n", "file")])
    extract(arc, tmp_path / "d")
    assert (tmp_path / "d" / "trustaudit.yaml").read_bytes() == b"name: x"
    assert (tmp_path / "d" / "data" / "eval.csv").read_bytes() == b"a,b\n1,2\n"
    zarc = tmp_path / "a.zip"
    with zipfile.ZipFile(zarc, "w") as zf:
        zf.writestr("trustaudit.yaml", "name: y")
        zf.writestr("data/eval.csv", "c\n3\n")
    extract(zarc, tmp_path / "z")
    assert _listing(tmp_path / "z") == {"trustaudit.yaml", "data", "data/eval.csv"}
