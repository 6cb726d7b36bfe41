"""resode.data: official file formats, digits, synthetic data, augmentation, batching."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from datafiles import write_cifar_archive, write_cifar_c_folder, write_cifar_folder
from resode import data
from resode.data import cifar as cifar_mod
from resode.errors import DataError, ResodeError


def test_cifar10_reads_official_pickle_layout(tmp_path: Path) -> None:
    folder = write_cifar_folder(tmp_path, "cifar10", n_per_file=6)
    train = data.load("cifar10", root=tmp_path, split="train")
    test = data.load("cifar10", root=tmp_path, split="test")
    assert train.images.shape == (30, 3, 32, 32) and test.images.shape == (6, 3, 32, 32)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    # pixel (c, y, x) of image 0 equals the raw byte at c*1024 + y*32 + x divided by 255
    with open(folder / "data_batch_1", "rb") as fh:
        raw = pickle.load(fh, encoding="bytes")
    assert train.images[0, 2, 5, 7].item() == pytest.approx(
        raw[b"data"][0][2 * 1024 + 5 * 32 + 7] / 255
    )
    assert train.labels[:6].tolist() == raw[b"labels"]
    assert train.class_names[3] == "class3" and train.num_classes == 10
    assert train.mean == cifar_mod.CIFAR10_MEAN


def test_cifar100_fine_labels(tmp_path: Path) -> None:
    write_cifar_folder(tmp_path, "cifar100", n_per_file=5)
    ds = data.load("cifar100", root=tmp_path, split="test")
    assert len(ds) == 5 and ds.num_classes == 100 and int(ds.labels.max()) < 100


def test_missing_cifar_names_folder_and_download_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"cifar-10-batches-py.*--download"):
        data.load("cifar10", root=tmp_path)


def test_corrupt_cifar_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_cifar_folder(tmp_path, "cifar10")
    (folder / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataError, match="corrupt"):
        data.load("cifar10", root=tmp_path, split="test")


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    folder = write_cifar_folder(tmp_path, "cifar10")

    class Evil:
        def __reduce__(self):  # would run os.system on a plain pickle.load
            import os

            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil()}, fh, protocol=2)
    with pytest.raises(DataError, match="forbidden global"):
        data.load("cifar10", root=tmp_path, split="test")


def test_download_verifies_checksum_and_extracts_atomically(tmp_path: Path, monkeypatch) -> None:
    archive = write_cifar_archive(tmp_path / "server", "cifar10")
    good_md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    spec = cifar_mod.CIFAR_SPECS["cifar10"]
    root = tmp_path / "data"
    # wrong checksum: error, and nothing that looks like a data set is left behind
    bad = spec.__class__(**{**spec.__dict__, "url": archive.as_uri(), "md5": "0" * 32})
    monkeypatch.setitem(cifar_mod.CIFAR_SPECS, "cifar10", bad)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.load("cifar10", root=root, download=True, progress=False)
    assert not (root / "cifar-10-batches-py").exists()
    assert not list(root.glob("*.part")) and not list(root.glob("*.tar.gz"))
    # right checksum: downloaded, extracted, loadable; a second call reuses the files
    good = spec.__class__(**{**spec.__dict__, "url": archive.as_uri(), "md5": good_md5})
    monkeypatch.setitem(cifar_mod.CIFAR_SPECS, "cifar10", good)
    ds = data.load("cifar10", root=root, split="test", download=True, progress=False)
    assert len(ds) == 6
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def _tar_with(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    """A .tar.gz of (name, file bytes) members; (name, None, link target) makes a symlink."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, payload, link in members:
            info = tarfile.TarInfo(name)
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(payload or b"")
                tar.addfile(info, io.BytesIO(payload or b""))
    return path


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != "a.tar.gz")


@pytest.mark.parametrize(
    ("bad_name", "link"),
    [
        ("../escaped.txt", None),  # parent directory
        ("pkg/../../escaped.txt", None),  # parent directory after a legal prefix
        ("/tmp/resode-absolute-escape.txt", None),  # absolute path
        ("pkg/link", "../../escaped.txt"),  # symlink pointing outside
        ("pkg/abs-link", "/etc/passwd"),  # symlink to an absolute path
    ],
)
def test_extraction_refuses_members_escaping_the_target(
    tmp_path: Path, bad_name: str, link: str | None
) -> None:
    from resode.data.download import extract_atomically

    root = tmp_path / "data"
    root.mkdir()
    members = [("pkg/a.bin", b"first", None), (bad_name, b"evil", link), ("pkg/z.bin", b"z", None)]
    archive = _tar_with(root / "a.tar.gz", members)
    with pytest.raises(DataError, match="escapes the target folder"):
        extract_atomically(archive, root, "pkg")
    assert _leftovers(root) == []  # neither the folder nor a temporary one
    assert not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/resode-absolute-escape.txt").exists()


def test_extraction_refuses_a_sibling_folder_sharing_the_prefix(
    tmp_path: Path, monkeypatch
) -> None:
    """``../.pkg.tmpX/f`` resolves to a sibling whose name starts like the target: refused."""
    from resode.data import download as download_mod

    root = tmp_path / "data"
    root.mkdir()
    tmp = root / ".pkg.tmp"
    monkeypatch.setattr(download_mod.tempfile, "mkdtemp", lambda **kw: str(tmp.mkdir() or tmp))
    archive = _tar_with(root / "a.tar.gz", [("pkg/a", b"a", None), ("../.pkg.tmpX/f", b"x", None)])
    with pytest.raises(DataError, match="escapes the target folder"):
        download_mod.extract_atomically(archive, root, "pkg")
    assert _leftovers(root) == []


def test_extraction_failing_midway_leaves_no_half_extracted_folder(
    tmp_path: Path, monkeypatch
) -> None:
    import tarfile

    from resode.data.download import extract_atomically

    root = tmp_path / "data"
    root.mkdir()
    members = [(f"pkg/f{i}.bin", bytes([i]) * 10, None) for i in range(4)]
    archive = _tar_with(root / "a.tar.gz", members)
    written = []
    real_copy = tarfile.copyfileobj

    def disk_full_after_two(src, dst, length=None, *args, **kwargs):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(length)
        return real_copy(src, dst, length, *args, **kwargs)

    monkeypatch.setattr(tarfile, "copyfileobj", disk_full_after_two)
    with pytest.raises(DataError, match="could not extract"):
        extract_atomically(archive, root, "pkg")
    assert len(written) == 2  # it did fail midway
    assert _leftovers(root) == []
    # an existing complete folder survives a failed re-extraction untouched
    (root / "pkg").mkdir()
    (root / "pkg" / "keep.bin").write_bytes(b"keep")
    written.clear()
    with pytest.raises(DataError, match="could not extract"):
        extract_atomically(archive, root, "pkg")
    assert _leftovers(root) == ["pkg"]
    assert [p.name for p in (root / "pkg").iterdir()] == ["keep.bin"]
    # and a complete extraction replaces it
    monkeypatch.setattr(tarfile, "copyfileobj", real_copy)
    final = extract_atomically(archive, root, "pkg")
    assert sorted(p.name for p in final.iterdir()) == [f"f{i}.bin" for i in range(4)]
    assert (final / "f3.bin").read_bytes() == bytes([3]) * 10
    assert _leftovers(root) == ["pkg"]


def test_cifar_c_severity_slices(tmp_path: Path) -> None:
    folder = write_cifar_c_folder(tmp_path, n=4)
    raw = np.load(folder / "gaussian_noise.npy")
    for severity in range(1, 6):
        ds = data.load("cifar10-c", root=tmp_path, corruption="gaussian", severity=severity)
        assert ds.images.shape == (4, 3, 32, 32)
        expected = torch.from_numpy(raw[(severity - 1) * 4]).permute(2, 0, 1).float() / 255
        assert torch.equal(ds.images[0], expected)
    all_sev = data.load("cifar10-c", root=tmp_path, corruption="gaussian_noise")
    assert len(all_sev) == 20


def test_cifar_c_wrong_shape_and_bad_names(tmp_path: Path) -> None:
    folder = write_cifar_c_folder(tmp_path, n=4)
    np.save(folder / "shot_noise.npy", np.zeros((7, 32, 32, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"\(5\*N, 32, 32, 3\)"):
        data.load("cifar10-c", root=tmp_path, corruption="shot_noise", severity=1)
    with pytest.raises(ResodeError, match="valid corruptions"):
        data.load("cifar10-c", root=tmp_path, corruption="rain", severity=1)
    with pytest.raises(DataError, match="severity"):
        data.load("cifar10-c", root=tmp_path, corruption="gaussian", severity=6)


def test_digits_is_embedded_split_and_resizable() -> None:
    train, test = data.load("digits", split="train"), data.load("digits", split="test")
    assert len(train) + len(test) == 1797 and len(test) == round(0.2 * 1797)
    assert train.images.shape[1:] == (1, 16, 16)
    assert float(train.images.min()) >= 0 and float(train.images.max()) <= 1
    # fixed split: test images are not in the training set; reloading is identical
    assert torch.equal(test.images, data.load("digits", split="test").images)
    flat_train = {tuple(x.flatten().tolist()) for x in train.images[:200]}
    assert not any(tuple(x.flatten().tolist()) in flat_train for x in test.images[:50])
    small = data.load("digits", split="test", image_size=8)
    assert small.images.shape[1:] == (1, 8, 8)
    assert set(train.labels.unique().tolist()) == set(range(10))


def test_synthetic_regression_seeded_and_on_sphere() -> None:
    a = data.load("synthetic", n=20, d=5, seed=3, unit_sphere=True, q=5)
    b = data.load("synthetic", n=20, d=5, seed=3, unit_sphere=True, q=5)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.allclose(a.x.norm(dim=1), torch.full((20,), 5**0.5), atol=1e-5)
    c = data.load("synthetic", n=20, d=5, seed=4)
    assert not torch.equal(a.y, c.y)


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(ResodeError, match="valid datasets: cifar10"):
        data.load("imagenet")


def test_random_crop_is_a_shifted_window_of_the_padded_image() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    out = data.random_crop(x, 2, "zero", g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(64):  # every output must be one of the 25 windows of its padded input
        windows = [padded[i, :, a : a + 8, b : b + 8] for a in range(5) for b in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not torch.equal(out, x)  # with 64 images some offset differs from the centre


def test_reflect_padding_and_flip() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, 1, 6, 6)
    aug = data.Augment(padding=2, mode="reflect", flip=True)
    out = aug(x, g)
    assert out.shape == x.shape
    # reflect padding never introduces values that are not in the image
    for i in range(32):
        assert set(out[i].flatten().tolist()) <= set(x[i].flatten().tolist())
    flipped = data.random_flip(x, torch.Generator().manual_seed(2))
    n_flipped = sum(torch.equal(flipped[i], x[i].flip(-1)) for i in range(32))
    assert 4 < n_flipped < 28


def test_batches_cover_the_data_once_per_epoch() -> None:
    ds = data.load("digits", split="test")
    g = torch.Generator().manual_seed(0)
    seen = torch.cat([y for _, y in data.batches(ds, 50, shuffle=True, generator=g)])
    assert len(seen) == len(ds) and sorted(seen.tolist()) == sorted(ds.labels.tolist())
    n = sum(1 for _ in data.batches(ds, 50, drop_last=True))
    assert n == len(ds) // 50 == data.num_batches(len(ds), 50, drop_last=True)
