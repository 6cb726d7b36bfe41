"""The released CIFAR-10-C / CIFAR-100-C files, checksum-verified (Hendrycks & Dietterich 2019).

A released folder holds 19 corruption files ``<corruption>.npy``, each (5·N, 32, 32, 3) uint8 with
the five severities stacked in order (rows (s−1)·N … s·N−1 are severity s; N = 10 000 for the
release), and ``labels.npy`` (5·N,) — the test labels repeated five times.

Where each expected checksum comes from (``FileCheck.expected_from``):

==================  ============================================================================
``publisher``       the MD5 of the released tar as listed by its publisher (the Zenodo records of
                    the authors: CIFAR-10-C 2535967, CIFAR-100-C 3555552),
                    :data:`RELEASED_ARCHIVES`, checked by :func:`verify_archive` and
                    :func:`extract_cifar_c`
``reference``       per-file MD5s of the extracted release, *computed by third parties* (the same
                    values appear in four independent public code bases); not published by the
                    authors: :data:`REFERENCE_FILE_MD5`, checked for files of the released size
``manifest``        the MD5 this loader computed and recorded in ``resode_manifest.json`` the
                    first time it saw the file (after an archive check, a reference check, or —
                    for a folder of another size, e.g. a subset — on trust); every later load must
                    give the same MD5
==================  ============================================================================

A missing file, a wrong shape or dtype, or a checksum that differs from the expected one is a
one-line :class:`~resode.errors.DataError` naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from resode.errors import DataError, ResodeError

#: the 19 corruption files of the release (the 15 of the benchmark, then the 4 extra ones)
RELEASED_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
    "elastic_transform", "pixelate", "jpeg_compression",
    "speckle_noise", "gaussian_blur", "spatter", "saturate",
)  # fmt: skip
#: the 15 corruptions of the CIFAR-10-C benchmark (RobustBench's ``corruptions`` threat model)
BENCHMARK_CORRUPTIONS = RELEASED_CORRUPTIONS[:15]
RELEASED_N = 10_000  # images per severity in the release
MANIFEST_FILE = "resode_manifest.json"
MANIFEST_FORMAT = "resode.cifar-c-manifest"


@dataclass(frozen=True)
class ReleasedArchive:
    """The publisher's record of one released tar."""

    file: str
    md5: str
    size: int
    record: str


#: publisher's checksums (Zenodo listings of the authors' records)
RELEASED_ARCHIVES = {
    "cifar10-c": ReleasedArchive(
        "CIFAR-10-C.tar", "56bf5dcef84df0e2308c6dcbcbbd8499", 2_918_471_680, "Zenodo 2535967"
    ),
    "cifar100-c": ReleasedArchive(
        "CIFAR-100-C.tar", "11f0ed0f1191edbf9fa23466ae6021d3", 2_918_473_216, "Zenodo 3555552"
    ),
}

#: per-file MD5s of the extracted release, computed by third parties (not the publisher's)
REFERENCE_FILE_MD5: dict[str, dict[str, str]] = {
    "cifar10-c": {
        "brightness": "0a81ef75e0b523c3383219c330a85d48",
        "contrast": "3c8262171c51307f916c30a3308235a8",
        "defocus_blur": "7d1322666342a0702b1957e92f6254bc",
        "elastic_transform": "9421657c6cd452429cf6ce96cc412b5f",
        "fog": "7b397314b5670f825465fbcd1f6e9ccd",
        "frost": "31f6ab3bce1d9934abfb0cc13656f141",
        "gaussian_blur": "c33370155bc9b055fb4a89113d3c559d",
        "gaussian_noise": "ecaf8b9a2399ffeda7680934c33405fd",
        "glass_blur": "7361fb4019269e02dbf6925f083e8629",
        "impulse_noise": "2090e01c83519ec51427e65116af6b1a",
        "jpeg_compression": "2b9cc4c864e0193bb64db8d7728f8187",
        "labels": "c439b113295ed5254878798ffe28fd54",
        "motion_blur": "fffa5f852ff7ad299cfe8a7643f090f4",
        "pixelate": "0f14f7e2db14288304e1de10df16832f",
        "saturate": "1cfae0964219c5102abbb883e538cc56",
        "shot_noise": "3a7239bb118894f013d9bf1984be7f11",
        "snow": "bb238de8555123da9c282dea23bd6e55",
        "spatter": "8a5a3903a7f8f65b59501a6093b4311e",
        "speckle_noise": "ef00b87611792b00df09c0b0237a1e30",
        "zoom_blur": "6ea8e63f1c5cdee1517533840641641b",
    },
    "cifar100-c": {
        "brightness": "f22d7195aecd6abb541e27fca230c171",
        "contrast": "322bb385f1d05154ee197ca16535f71e",
        "defocus_blur": "d923e3d9c585a27f0956e2f2ad832564",
        "elastic_transform": "a0792bd6581f6810878be71acedfc65a",
        "fog": "4efc7ebd5e82b028bdbe13048e3ea564",
        "frost": "3a39c6823bdfaa0bf8b12fe7004b8117",
        "gaussian_blur": "5204ba0d557839772ef5a4196a052c3e",
        "gaussian_noise": "ecc4d366eac432bdf25c024086f5e97d",
        "glass_blur": "0bf384f38e5ccbf8dd479d9059b913e1",
        "impulse_noise": "3b3c210ddfa0b5cb918ff4537a429fef",
        "jpeg_compression": "c851b7f1324e1d2ffddeb76920576d11",
        "labels": "bb4026e9ce52996b95f439544568cdb2",
        "motion_blur": "732a7e2e54152ff97c742d4c388c5516",
        "pixelate": "96c00c60f144539e14cffb02ddbd0640",
        "saturate": "c0697e9fdd646916a61e9c312c77bf6b",
        "shot_noise": "b0a1fa6e1e465a747c1b204b1914048a",
        "snow": "0237be164583af146b7b144e73b43465",
        "spatter": "12ccf41d62564d36e1f6a6ada5022728",
        "speckle_noise": "e3f215b1a0f9fd9fd6f0d1cf94a7ce99",
        "zoom_blur": "0204613400c034a81c4830d5df81cb82",
    },
}

ExpectedFrom = Literal["publisher", "reference", "manifest", "recorded"]


@dataclass(frozen=True)
class FileCheck:
    """One verified file: its MD5 (computed here), shape, and where the expected MD5 came from
    (``recorded``: none existed, the computed one was recorded in the manifest)."""

    file: str
    md5: str
    shape: tuple[int, ...]
    dtype: str
    expected_from: ExpectedFrom


def _md5(path: Path) -> str:
    from resode.data.download import md5sum

    return md5sum(path)


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the ``.npy`` header (no data read)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} is not a valid .npy array file ({exc}); extract it again") from exc
    return tuple(arr.shape), arr.dtype


def check_format(folder: Path, stem: str, n5: int | None = None) -> tuple[tuple[int, ...], str]:
    """Shape (5·N, 32, 32, 3) uint8 for a corruption file, (5·N,) integers for ``labels``;
    ``n5`` the number of rows every file of the folder must have."""
    path = folder / f"{stem}.npy"
    if not path.is_file():
        raise DataError(
            f"{path} not found; the released CIFAR-C folder holds the 19 corruption files and "
            "labels.npy: extract the whole tar (resode data --extract-cifar-c TAR)"
        )
    shape, dtype = _header(path)
    if stem == "labels":
        if len(shape) != 1 or not np.issubdtype(dtype, np.integer):
            raise DataError(f"{path} has shape {shape} dtype {dtype}; labels must be (5*N,) ints")
    elif len(shape) != 4 or shape[1:] != (32, 32, 3) or shape[0] % 5 or dtype != np.uint8:
        raise DataError(
            f"{path} has shape {shape} dtype {dtype}; CIFAR-C files must be (5*N, 32, 32, 3) "
            "uint8 (5 severities of N images); extract the file again"
        )
    if n5 is not None and shape[0] != n5:
        raise DataError(
            f"{path} holds {shape[0]} rows but labels.npy holds {n5}; the folder mixes files of "
            "different releases, extract the tar again"
        )
    return shape, str(dtype)


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The recorded per-file entries of ``folder/resode_manifest.json`` ({} when absent)."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); delete it to record it anew") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{path} is not a resode CIFAR-C manifest; delete it to record it anew")
    return dict(data.get("files") or {})


def write_manifest(folder: Path, name: str, files: dict[str, dict[str, Any]]) -> bool:
    """Merge ``files`` into the manifest atomically; False when the folder is read-only."""
    with _manifest_lock(folder):  # parallel workers: read, merge and write one at a time
        return _write_manifest(folder, name, files)


@contextlib.contextmanager
def _manifest_lock(folder: Path) -> Iterator[None]:
    """An advisory lock next to the manifest (none where the folder is read-only)."""
    try:
        import fcntl

        fh = open(folder / f".{MANIFEST_FILE}.lock", "a+")  # noqa: SIM115
    except (ImportError, OSError):
        yield
        return
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_manifest(folder: Path, name: str, files: dict[str, dict[str, Any]]) -> bool:
    from resode.checkpoint import atomic_write_text

    entries = {**read_manifest(folder), **files}
    body = {
        "format": MANIFEST_FORMAT,
        "dataset": name,
        "note": (
            "md5 computed by resode; expected_from says what it was checked against when "
            "recorded: publisher (the archive's MD5 from its publisher), reference (third-party "
            "per-file MD5s), recorded (nothing: trusted on first use)"
        ),
        "files": dict(sorted(entries.items())),
    }
    try:
        atomic_write_text(folder / MANIFEST_FILE, json.dumps(body, indent=2) + "\n")
    except (OSError, ResodeError):
        return False
    return True


#: files verified in this process: (path, size, mtime_ns) → FileCheck
_VERIFIED: dict[tuple[str, int, int], FileCheck] = {}


def verify_file(
    name: str, folder: Path, stem: str, *, n5: int | None = None, record: bool = True
) -> FileCheck:
    """Check format and MD5 of ``folder/<stem>.npy`` (see the module doc for the expected MD5);
    once per process and file version."""
    path = folder / f"{stem}.npy"
    shape, dtype = check_format(folder, stem, n5)
    st = path.stat()
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return _VERIFIED[key]
    got = _md5(path)
    manifest = read_manifest(folder).get(f"{stem}.npy")
    reference = REFERENCE_FILE_MD5.get(name, {}).get(stem)
    released = shape[0] == 5 * RELEASED_N
    if manifest is not None:
        expected, source = manifest.get("md5"), "manifest"
        where = f"recorded in {folder / MANIFEST_FILE}"
    elif _archive_verified(folder):  # extracted here from a tar with the publisher's MD5
        expected, source, where = got, "publisher", ""
    elif released and reference is not None:
        expected, source = reference, "reference"
        where = "of the released file (third-party per-file reference)"
    else:
        expected, source, where = got, "recorded", ""
    if got != expected:
        raise DataError(
            f"checksum mismatch for {path}: MD5 {got}, expected {expected} {where}; the file is "
            "corrupt or not the released one: extract it again from the tar (or delete "
            f"{MANIFEST_FILE} if you replaced the file on purpose)"
        )
    check = FileCheck(f"{stem}.npy", got, shape, dtype, source)  # type: ignore[arg-type]
    if manifest is None and record:
        write_manifest(folder, name, {check.file: asdict(check)})
    _VERIFIED[key] = check
    return check


def _archive_verified(folder: Path) -> bool:
    return (folder / ".archive_verified").is_file()


@dataclass
class FolderCheck:
    """Every file of a CIFAR-C folder, verified."""

    dataset: str
    folder: Path
    n_per_severity: int
    files: list[FileCheck]

    def summary(self) -> str:
        by: dict[str, int] = {}
        for f in self.files:
            by[f.expected_from] = by.get(f.expected_from, 0) + 1
        how = ", ".join(f"{k}: {v}" for k, v in sorted(by.items()))
        return (
            f"{self.dataset}: {len(self.files)} files in {self.folder} verified "
            f"({self.n_per_severity} images per severity; expected MD5 from {how})"
        )


def verify_folder(
    name: str, folder: Path, corruptions: tuple[str, ...] | list[str] = RELEASED_CORRUPTIONS
) -> FolderCheck:
    """Verify ``labels.npy`` and every corruption file of ``corruptions`` (default all 19)."""
    labels = verify_file(name, folder, "labels")
    n5 = labels.shape[0]
    if n5 % 5:
        raise DataError(f"{folder / 'labels.npy'} holds {n5} labels, not a multiple of 5")
    files = [labels] + [verify_file(name, folder, c, n5=n5) for c in corruptions]
    return FolderCheck(name, folder, n5 // 5, files)


def verify_archive(path: Path, name: str = "cifar10-c") -> None:
    """The tar's size and MD5 against the publisher's (:data:`RELEASED_ARCHIVES`)."""
    rel = RELEASED_ARCHIVES[name]
    if not path.is_file():
        raise DataError(f"{path} not found; download {rel.file} ({rel.record}) first")
    size = path.stat().st_size
    if size != rel.size:
        raise DataError(
            f"{path} has {size} bytes, the released {rel.file} ({rel.record}) has {rel.size}; "
            "download it again"
        )
    got = _md5(path)
    if got != rel.md5:
        raise DataError(
            f"checksum mismatch for {path}: MD5 {got}, the publisher lists {rel.md5} "
            f"({rel.record}); the download is corrupt, download it again"
        )


def extract_cifar_c(archive: Path, root: Path, name: str = "cifar10-c") -> FolderCheck:
    """Check ``archive`` against the publisher's MD5, extract it atomically under ``root`` and
    record the per-file MD5s (``expected_from = publisher``) in the folder's manifest."""
    from resode.data.cifar_c import CIFAR_C_FOLDERS
    from resode.data.download import extract_atomically

    verify_archive(archive, name)
    folder = extract_atomically(archive, root, CIFAR_C_FOLDERS[name])
    (folder / ".archive_verified").write_text(RELEASED_ARCHIVES[name].md5 + "\n")
    return verify_folder(name, folder)


__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "MANIFEST_FILE",
    "REFERENCE_FILE_MD5",
    "RELEASED_ARCHIVES",
    "RELEASED_CORRUPTIONS",
    "FileCheck",
    "FolderCheck",
    "extract_cifar_c",
    "read_manifest",
    "verify_archive",
    "verify_file",
    "verify_folder",
    "write_manifest",
]
