"""CIFAR-10-C as released: every one of the 19 files, checksums (publisher's tar MD5, third-party
per-file reference, recorded manifest), one-line errors, and the per-corruption × severity CSV of
``resode robustness`` — on small files written in the real format."""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import resode
from resode import data
from resode.data import cifar_c_files as cf
from resode.errors import ConfigError, DataError
from resode.nn import Normalize
from resode.robustness import RobustnessConfig

ALL = cf.RELEASED_CORRUPTIONS


@resode.register_model("_test_cifarc_linear", family="test")
def _linear(mean: list[float] | None = None, std: list[float] | None = None) -> nn.Module:
    """Normalize → flatten → linear on 3×32×32."""
    return nn.Sequential(
        Normalize(mean or [0.5] * 3, std or [0.25] * 3), nn.Flatten(), nn.Linear(3072, 10)
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    cf._VERIFIED.clear()  # every test verifies its own files from scratch
    yield
    cf._VERIFIED.clear()


def _release(root: Path, corruptions: tuple[str, ...] = ALL) -> tuple[Path, data.ImageDataset]:
    from datafiles import write_cifar_folder, write_released_cifar_c

    write_cifar_folder(root, "cifar10")
    test = data.load("cifar10", split="test", root=root)
    hwc = (test.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return write_released_cifar_c(root, hwc, test.labels.numpy(), corruptions), test


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_the_release_lists_19_files_and_the_benchmark_15():
    assert len(ALL) == len(set(ALL)) == 19
    assert set(cf.BENCHMARK_CORRUPTIONS) < set(ALL) and len(cf.BENCHMARK_CORRUPTIONS) == 15
    assert set(data.CIFAR_C_CORRUPTIONS) == set(ALL)
    for name in ("cifar10-c", "cifar100-c"):
        assert set(cf.REFERENCE_FILE_MD5[name]) == {*ALL, "labels"}
        assert all(len(v) == 32 for v in cf.REFERENCE_FILE_MD5[name].values())


def test_every_file_loads_with_its_severity_rows_and_the_manifest_is_recorded(tmp_path):
    folder, test = _release(tmp_path)
    n = len(test)
    check = cf.verify_folder("cifar10-c", folder)
    assert check.n_per_severity == n and len(check.files) == 20
    assert {f.expected_from for f in check.files} == {"recorded"}  # nothing to check against yet
    manifest = json.loads((folder / cf.MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {f"{c}.npy" for c in (*ALL, "labels")}
    for f, entry in manifest["files"].items():  # the recorded MD5 is the file's real MD5
        assert entry["md5"] == _md5(folder / f) and entry["expected_from"] == "recorded"
    raw = np.load(folder / "frost.npy")
    for s in (1, 3, 5):
        ds = data.load("cifar10-c", root=tmp_path, corruption="frost", severity=s)
        assert ds.images.shape == (n, 3, 32, 32) and torch.equal(ds.labels, test.labels)
        want = torch.from_numpy(raw[(s - 1) * n : s * n]).permute(0, 3, 1, 2).float() / 255
        assert torch.equal(ds.images, want)
    cf._VERIFIED.clear()  # a new process: the manifest is now what the files are checked against
    assert {f.expected_from for f in cf.verify_folder("cifar10-c", folder).files} == {"manifest"}


def test_a_changed_byte_a_missing_file_a_wrong_shape_or_dtype_are_one_line_errors(tmp_path):
    folder, _ = _release(tmp_path, ("fog", "snow", "contrast"))
    cf.verify_folder("cifar10-c", folder, ["fog", "snow", "contrast"])
    cf._VERIFIED.clear()
    path = folder / "snow.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1  # one bit of one pixel
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"checksum mismatch .*snow\.npy.*manifest") as err:
        data.load("cifar10-c", root=tmp_path, corruption="snow", severity=2)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"pixelate\.npy not found"):
        cf.verify_folder("cifar10-c", folder, ["fog", "pixelate"])
    np.save(folder / "contrast.npy", np.zeros((15, 32, 32, 3), np.float32))
    with pytest.raises(DataError, match="uint8"):
        cf.verify_folder("cifar10-c", folder, ["contrast"])
    np.save(folder / "contrast.npy", np.zeros((10, 32, 32, 3), np.uint8))
    with pytest.raises(DataError, match=r"rows but labels\.npy"):
        cf.verify_folder("cifar10-c", folder, ["contrast"])
    np.save(folder / "contrast.npy", np.zeros((15, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"\(5\*N, 32, 32, 3\)"):
        cf.verify_folder("cifar10-c", folder, ["contrast"])


def test_files_of_the_released_size_are_checked_against_the_reference(tmp_path, monkeypatch):
    folder, test = _release(tmp_path, ("fog", "zoom_blur"))
    # pretend our small files are the release: the third-party per-file table decides
    monkeypatch.setattr(cf, "RELEASED_N", len(test))
    ref = {"fog": _md5(folder / "fog.npy"), "labels": _md5(folder / "labels.npy")}
    ref["zoom_blur"] = "0" * 32
    monkeypatch.setitem(cf.REFERENCE_FILE_MD5, "cifar10-c", ref)
    assert cf.verify_file("cifar10-c", folder, "fog").expected_from == "reference"
    with pytest.raises(DataError, match="third-party per-file reference"):
        cf.verify_file("cifar10-c", folder, "zoom_blur")
    assert "zoom_blur.npy" not in cf.read_manifest(folder)  # a failed file is never recorded


def test_the_archive_is_checked_against_the_publishers_md5(tmp_path, monkeypatch):
    src, _ = _release(tmp_path / "src", ("gaussian_noise", "saturate"))
    tar = tmp_path / "CIFAR-10-C.tar"
    with tarfile.open(tar, "w") as t:
        t.add(src, arcname="CIFAR-10-C")
    real = cf.RELEASED_ARCHIVES["cifar10-c"]
    assert real.md5 == "56bf5dcef84df0e2308c6dcbcbbd8499"  # as the publisher lists it
    with pytest.raises(DataError, match="bytes, the released"):
        cf.verify_archive(tar)
    fake = cf.ReleasedArchive(real.file, _md5(tar), tar.stat().st_size, real.record)
    monkeypatch.setitem(cf.RELEASED_ARCHIVES, "cifar10-c", fake)
    monkeypatch.setattr(cf, "RELEASED_CORRUPTIONS", ("gaussian_noise", "saturate"))
    monkeypatch.setattr(cf.verify_folder, "__defaults__", (("gaussian_noise", "saturate"),))
    out = tmp_path / "data"
    out.mkdir()
    check = cf.extract_cifar_c(tar, out)
    assert {f.expected_from for f in check.files} == {"publisher"}
    assert {e["expected_from"] for e in cf.read_manifest(out / "CIFAR-10-C").values()} == {
        "publisher"
    }
    bad = cf.ReleasedArchive(real.file, "f" * 32, tar.stat().st_size, real.record)
    monkeypatch.setitem(cf.RELEASED_ARCHIVES, "cifar10-c", bad)
    with pytest.raises(DataError, match=r"the publisher lists f{32}"):
        cf.verify_archive(tar)


def test_config_takes_every_released_name_only_from_files():
    cfg = RobustnessConfig(corruption_source="files", corruptions=["all"])
    assert cfg.corruptions == list(ALL)
    assert (
        RobustnessConfig(corruptions=["all"]).corruptions == resode.corruptions.list_corruptions()
    )
    with pytest.raises(ConfigError, match="corruption_source = files"):
        RobustnessConfig(corruptions=["fog"])
    assert RobustnessConfig(
        corruption_source="files", corruptions=["fog", "gaussian"]
    ).corruptions == [
        "fog",
        "gaussian_noise",
    ]


def test_robustness_writes_the_corruption_by_severity_csv_from_all_19_files(tmp_path):
    from resode.cli import main

    _, test = _release(tmp_path)
    torch.manual_seed(0)
    model = resode.create_model("_test_cifarc_linear", mean=list(test.mean), std=list(test.std))
    ck = tmp_path / "c10.pt"
    resode.save_checkpoint(ck, model, config={"dataset": "cifar10", "data_root": str(tmp_path)})
    out = tmp_path / "out"
    args = ["robustness", str(ck), "--out", str(out), "--attacks", "none", "--no-progress"]
    args += ["--corruption-source", "files", "--corruptions", "all", "--n-samples", "4"]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "corruptions.csv").open()))
    as_json = json.loads((out / "corruptions.json").read_text())
    assert len(rows) == len(as_json) == 19 * (5 + 1) + 1  # cells, pooled per file, the mean
    assert [r["corruption"] for r in rows] == [r["corruption"] for r in as_json]
    cells = [r for r in rows if r["severity"] not in ("pooled", "all")]
    assert {(r["corruption"], r["severity"]) for r in cells} == {
        (c, str(s)) for c in ALL for s in range(1, 6)
    }
    # each cell is the model's accuracy on exactly those rows of the released file
    res = json.loads((out / "results.json").read_text())
    idx = torch.tensor(res["indices"])
    model.eval()
    for c, s in (("gaussian_noise", 1), ("saturate", 5), ("fog", 3)):
        ds = data.load("cifar10-c", root=tmp_path, corruption=c, severity=s).subset(idx)
        with torch.no_grad():
            want = (model(ds.images).argmax(1) == ds.labels).float().mean().item()
        (row,) = [r for r in cells if r["corruption"] == c and r["severity"] == str(s)]
        assert float(row["accuracy"]) == pytest.approx(want)
        assert float(row["ci_low"]) <= want <= float(row["ci_high"])
        assert int(row["n_images"]) == 4
    (mean,) = [r for r in rows if r["corruption"] == "mean"]
    assert float(mean["accuracy"]) == pytest.approx(
        sum(float(r["accuracy"]) for r in cells) / (19 * 5)
    )
    # severity 1 of the first file holds the clean images: its accuracy is the clean accuracy
    (g1,) = [r for r in cells if r["corruption"] == "gaussian_noise" and r["severity"] == "1"]
    assert float(g1["accuracy"]) == pytest.approx(res["models"][0]["clean"])
    # one model is its own baseline: CE = 1 per file and the mCE over the 15 benchmark ones
    ce = list(csv.DictReader((out / "corruptions_ce.csv").open()))
    assert len(ce) == 19 + 1 and {r["corruption"] for r in ce} == set(ALL) | {"mCE"}
    assert all(float(r["ce"]) == pytest.approx(1.0) for r in ce)


def test_reproduce_evaluates_every_released_file_and_data_cli_verifies(tmp_path, capsys):
    import dataclasses

    from resode.cli import main
    from resode.presets import get_preset
    from resode.reproduce import paper_a

    cfg = get_preset("tiny", kind="reproduce")
    files = cfg.paper_a.robustness.replace(
        corruption_source="files", corruptions=["all"], noise_strengths=[1.0]
    )
    pa = dataclasses.replace(cfg.paper_a, robustness=files)
    rob = paper_a.tasks(dataclasses.replace(cfg, paper_a=pa))[0].params["robustness"]
    assert rob["corruption_source"] == "files" and rob["corruptions"] == list(ALL)
    folder, _ = _release(tmp_path)
    assert main(["data", "--data-root", str(tmp_path), "--verify-cifar-c", "cifar10-c"]) == 0
    assert "20 files" in capsys.readouterr().out
    np.save(folder / "snow.npy", np.zeros((30, 32, 32, 3), np.uint8))
    cf._VERIFIED.clear()
    assert main(["data", "--data-root", str(tmp_path), "--verify-cifar-c", "cifar10-c"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_on_the_released_files_writes_the_corruption_table(tmp_path):
    import csv as csv_mod
    import dataclasses

    from resode.presets import get_preset
    from resode.reproduce import run_reproduce

    _release(tmp_path / "data")
    cfg = get_preset("tiny", kind="reproduce")
    rob = cfg.paper_a.robustness.replace(
        corruption_source="files", corruptions=["all"], noise_strengths=[1.0], attacks=["fgsm"],
        checks=False, n_samples=None,
    )  # fmt: skip
    pa = dataclasses.replace(
        cfg.paper_a, dataset="cifar10", data_root=str(tmp_path / "data"), seeds=[0],
        models=["resnet20", "inresnet20"], robustness=rob,
        training=cfg.paper_a.training.replace(preset="digits", train_subset=None),
    )  # fmt: skip
    cfg = dataclasses.replace(
        cfg,
        paper_a=pa,
        sweep=dataclasses.replace(cfg.sweep, enabled=False),
        paper_b=dataclasses.replace(cfg.paper_b, enabled=False),
        executor="serial",
    )
    res = run_reproduce(cfg, tmp_path / "run", progress=False)
    assert res.failed == {}
    rows = list(csv_mod.DictReader((tmp_path / "run" / "paper_a_corruptions.csv").open()))
    for model in pa.models:
        mine = [r for r in rows if r["model"] == model and r["seed"] == "0"]
        cells = {
            (r["corruption"], r["severity"]) for r in mine if r["severity"] not in ("pooled", "all")
        }
        assert cells == {(c, str(s)) for c in ALL for s in pa.robustness.severities}
    run = json.loads((tmp_path / "run" / "results.json").read_text())["paper_a"]["runs"][0]
    assert set(run["robustness"]["corruptions"]) == set(ALL)
    # the noise claim reads the four stochastic noises only; the other 15 files are reported
    cor = run["robustness"]["corruptions"]
    noises = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
    rest = [c for c in ALL if c not in noises]
    assert run["metrics"]["noise_pooled"] == pytest.approx(
        sum(cor[c]["pooled"] for c in noises) / 4
    )
    assert run["metrics"]["other_corruptions_pooled"] == pytest.approx(
        sum(cor[c]["pooled"] for c in rest) / len(rest)
    )
    ce = list(csv_mod.DictReader((tmp_path / "run" / "paper_a_corruptions_ce.csv").open()))
    assert {r["model"] for r in ce} == set(pa.models)


def test_corruption_error_is_one_for_the_baseline_and_the_error_ratio_otherwise():
    from resode.data.cifar_c_files import BENCHMARK_CORRUPTIONS
    from resode.robustness.corruption_table import corruption_errors, corruption_rows

    rng = torch.Generator().manual_seed(0)
    base_err = {c: torch.rand(5, generator=rng).mul(0.5).add(0.1).tolist() for c in ALL}

    def accs(scale_bench: float, scale_other: float) -> dict[str, dict[str, float]]:
        out = {}
        for c, errs in base_err.items():
            k = scale_bench if c in BENCHMARK_CORRUPTIONS else scale_other
            out[c] = {str(s + 1): 1 - k * e for s, e in enumerate(errs)}
        return out

    rows = corruption_rows("res", accs(1, 1), 100, seed=3)
    rows += corruption_rows("damped", accs(0.5, 3.0), 100, seed=3)
    ce = {(r.model, r.corruption): r for r in corruption_errors(rows, baseline="res")}
    assert all(ce[("res", c)].ce == pytest.approx(1.0) for c in ALL)
    assert ce[("damped", "fog")].ce == pytest.approx(0.5)
    other = next(c for c in ALL if c not in BENCHMARK_CORRUPTIONS)
    assert ce[("damped", other)].ce == pytest.approx(3.0) and not ce[("damped", other)].benchmark
    # all 15 benchmark corruptions present: mCE is over those 15 only (the other 4 are ×3)
    assert ce[("damped", "mCE")].ce == pytest.approx(0.5) and ce[("damped", "mCE")].benchmark
    assert ce[("res", "mCE")].ce == pytest.approx(1.0)
    # a subset of corruptions: mCE over those evaluated, not marked as the benchmark's
    few = [r for r in rows if r.corruption in ("fog", other)]
    sub = {(r.model, r.corruption): r for r in corruption_errors(few, baseline="res")}
    assert sub[("damped", "mCE")].ce == pytest.approx((0.5 + 3.0) / 2)
    assert not sub[("damped", "mCE")].benchmark
    assert corruption_errors(rows, baseline="absent") == []
