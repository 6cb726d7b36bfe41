"""Checked downloads: verify the checksum, extract into a temporary folder, then rename.

A failed or interrupted download never leaves a folder that later looks valid: the archive is
written to ``<name>.part`` and renamed only after its MD5 matches, and extraction happens in a
temporary folder that is renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from resode.errors import DataError


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download_file(url: str, dest: Path, md5: str, *, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right MD5 is already there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and md5sum(dest) == md5:
        return dest
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise DataError(
            f"could not download {url} ({exc}); download it by hand and put it in {dest.parent}"
        ) from exc
    got = md5sum(part)
    if got != md5:
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {url}: expected MD5 {md5}, got {got}; the download is corrupt "
            "and was deleted, try again"
        )
    part.replace(dest)
    return dest


def _safe_members(tar: tarfile.TarFile, target: Path) -> list[tarfile.TarInfo]:
    """Every member, after checking that each is a file or folder that lands inside ``target``.

    Refused: absolute names, ``..`` that leaves ``target`` (tested on whole path components, so a
    sibling folder whose name merely starts like ``target`` is outside too), links of any kind
    and device or FIFO entries.
    """
    base = target.resolve()
    members = []
    for m in tar.getmembers():
        resolved = (base / m.name).resolve()
        if not (m.isfile() or m.isdir()) or not resolved.is_relative_to(base):
            raise DataError(f"archive member {m.name!r} escapes the target folder; refusing it")
        members.append(m)
    return members


def extract_atomically(archive: Path, root: Path, folder: str) -> Path:
    """Extract ``archive`` (which contains ``folder``) into ``root/folder`` atomically.

    The members go to a temporary folder next to ``root/folder`` that replaces it only once the
    extraction is complete: a failure midway leaves ``root`` as it was.
    """
    final = root / folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.", dir=root))
    try:
        try:
            with tarfile.open(archive) as tar:
                members = _safe_members(tar, tmp)
                if hasattr(tarfile, "data_filter"):  # Python ≥ 3.10.12 / 3.11.4: checked twice
                    tar.extractall(tmp, members=members, filter="data")
                else:  # pragma: no cover - older Pythons
                    tar.extractall(tmp, members=members)
        except (OSError, tarfile.TarError) as exc:
            raise DataError(
                f"could not extract {archive} ({exc}); free some space or delete the archive "
                "and download it again"
            ) from exc
        if not (tmp / folder).is_dir():
            raise DataError(f"archive {archive} does not contain the folder {folder!r}")
        if final.exists():
            shutil.rmtree(final)
        (tmp / folder).replace(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
