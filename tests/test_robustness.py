"""Robustness engine and ``resode robustness``: invariants, pairing, report files, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import resode
from resode import data
from resode.checkpoint import atomic_torch_save
from resode.cli import main
from resode.errors import ResodeError
from resode.nn import Normalize
from resode.robustness import (
    RobustnessConfig,
    eps_label,
    evaluate_models,
    load_corruption_set,
    run_robustness,
)


@resode.register_model("test_robust_linear", family="test")
def _linear(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 16,
    mean: list[float] | None = None,
    std: list[float] | None = None,
) -> nn.Module:
    """Normalize → flatten → linear (a tiny model for the robustness tests)."""
    mean = mean or [0.5] * in_channels
    std = std or [0.25] * in_channels
    return nn.Sequential(
        Normalize(mean, std),
        nn.Flatten(),
        nn.Linear(in_channels * image_size * image_size, num_classes),
    )


def fitted_linear(seed: int = 0, size: int = 8, steps: int = 60) -> nn.Module:
    """A linear classifier on digits (size×size) fitted with a few Adam steps (~90 % accuracy)."""
    ds = data.load("digits", split="train", image_size=size)
    torch.manual_seed(seed)
    model = resode.create_model(
        "test_robust_linear", image_size=size, mean=list(ds.mean), std=list(ds.std)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(ds.images), ds.labels).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return model.eval()


@pytest.fixture(scope="module")
def digits8():
    ds = data.load("digits", split="test", image_size=8)
    return ds.subset(torch.arange(0, 360, 6))  # 60 images


@pytest.fixture(scope="module")
def models():
    return [("a", fitted_linear(0)), ("b", fitted_linear(1))]


FAST = {"steps": 5, "severities": [1, 3], "eps": [4 / 255, 16 / 255]}


def test_engine_invariants(models, digits8):
    cfg = RobustnessConfig(**FAST, corruptions=["gaussian", "impulse"])
    models[0][1].train()
    res = evaluate_models(models, digits8.images, digits8.labels, cfg, progress=False)
    assert models[0][1].training and not models[1][1].training  # modes restored
    for r in res:
        assert r.clean > 0.7
        for lev in ("4/255", "16/255"):
            per_attack = [r.attacks[a][lev] for a in ("fgsm", "ifgsm", "pgd")]
            assert r.robust[lev] <= min(per_attack) <= max(per_attack) <= r.clean
        assert r.robust["16/255"] < r.clean  # the attacks do something
        for accs in r.corruptions.values():  # pooled = mean over the (equal-size) severities
            assert accs["pooled"] == pytest.approx((accs["1"] + accs["3"]) / 2, abs=1e-12)


def test_paired_and_deterministic(models, digits8):
    """Same model twice → same numbers (same noise, same random starts); reruns identical."""
    cfg = RobustnessConfig(**FAST, corruptions=["shot"], attacks=["pgd"])
    m = models[0][1]
    res = evaluate_models([("x", m), ("y", m)], digits8.images, digits8.labels, cfg, progress=False)
    again = evaluate_models([("x", m)], digits8.images, digits8.labels, cfg, progress=False)
    for r in (res[1], again[0]):
        assert r.clean == res[0].clean
        assert r.corruptions == res[0].corruptions
        assert r.attacks == res[0].attacks and r.robust == res[0].robust


def test_config_validation_and_defaults():
    cfg = RobustnessConfig(attacks=["BIM", "pgd", "pgd"], corruptions=["gaussian"])
    assert cfg.attacks == ["ifgsm", "pgd"] and cfg.corruptions == ["gaussian_noise"]
    assert RobustnessConfig(attacks=["none"], corruptions=["none"]).attacks == []
    assert cfg.resolved_eps("digits") == pytest.approx([k / 255 for k in (2, 4, 8, 16)])
    assert cfg.resolved_eps("cifar10") == pytest.approx([k / 255 for k in (1, 2, 4, 8)])
    assert RobustnessConfig(norm="L2", eps=[2.0]).resolved_eps("digits") == [2.0]
    assert [eps_label(k / 255) for k in (1, 8)] == ["1/255", "8/255"]
    for bad in (
        {"attacks": ["deepfool"]},
        {"attacks": ["autoattack"]},
        {"corruptions": ["fog_noise"]},
        {"eps": [8.0]},
        {"eps": [-0.1]},
        {"eps": []},
        {"severities": [6]},
    ):
        with pytest.raises(ResodeError):
            RobustnessConfig.from_dict(bad)


def _save(path: Path, model: nn.Module, **config) -> str:
    resode.save_checkpoint(path, model, config=config)
    return str(path)


def test_cli_end_to_end(tmp_path, capsys):
    ds = data.load("digits", split="test")
    kw = {"num_classes": 10, "in_channels": 1, "image_size": 16}
    kw.update(mean=list(ds.mean), std=list(ds.std))
    torch.manual_seed(0)
    a = _save(tmp_path / "r20" / "last.pt", resode.create_model("resnet20", **kw), dataset="digits")
    b = _save(tmp_path / "lin.pt", fitted_linear(0, size=16, steps=30), dataset="digits")
    out = tmp_path / "out"
    args = ["robustness", a, b, "--out", str(out), "--n-samples", "12", "--steps", "2"]
    args += ["--eps", "8/255", "--severities", "1", "--corruptions", "gaussian", "--no-progress"]
    args += ["--attacks", "fgsm", "pgd", "--surrogate", b, "--checks"]
    assert main(args) == 0
    report = (out / "report.md").read_text()
    assert "## Gradient-masking checks" in report
    assert "| metric | r20 | lin |" in report and "**robust** ε=8/255" in report
    js = json.loads((out / "results.json").read_text())
    assert js["config"]["dataset"] == "digits" and js["seed"] == 0 and js["n_samples"] == 12
    assert [m["label"] for m in js["models"]] == ["r20", "lin"]
    for m in js["models"]:
        assert set(m["attacks"]) == {"fgsm", "pgd", "transfer-pgd"}
        assert m["robust"]["8/255"] <= min(v["8/255"] for v in m["attacks"].values())
        assert m["robust"]["8/255"] <= m["clean"]
    # the surrogate against itself: the transfer attack is its own white-box PGD (full run)
    lin = js["models"][1]["attacks"]
    assert lin["transfer-pgd"]["8/255"] >= lin["pgd"]["8/255"]
    checks = {m["label"]: [c["name"] for c in m["checks"]] for m in js["models"]}
    assert checks["r20"] == [
        "flags",
        "monotonicity",
        "eps_sweep",
        "square",
        "transfer-lin",
        "transfer-surrogate",
    ]
    assert "transfer-r20" in checks["lin"]
    for m in js["models"]:
        for c in m["checks"]:
            assert (c["reason"] in report) and isinstance(c["passed"], bool)
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * (1 + 2 + 3 + 1)  # clean, 1 severity + pooled, 3 attacks, robust


def _cli_error(args: list[str], capsys) -> str:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and "Traceback" not in err
    return err


def test_cli_errors(tmp_path, capsys):
    model = fitted_linear(0, size=16, steps=1)
    good = _save(tmp_path / "good.pt", model, dataset="digits")
    out = ["--out", str(tmp_path / "o"), "--no-progress"]
    assert "eps" in _cli_error(["robustness", good, *out, "--eps", "8"], capsys)
    assert "eps" in _cli_error(["robustness", good, *out, "--eps", "abc"], capsys)
    assert "deepfool" in _cli_error(["robustness", good, *out, "--attacks", "deepfool"], capsys)
    assert "fog" in _cli_error(["robustness", good, *out, "--corruptions", "fog"], capsys)
    nodata = _save(tmp_path / "nodata.pt", model)
    assert "--dataset" in _cli_error(["robustness", nodata, *out], capsys)
    # a checkpoint whose architecture is not in the registry
    payload = torch.load(good, weights_only=True)
    payload["model"]["name"] = "no_such_model"
    atomic_torch_save(payload, tmp_path / "alien.pt")
    err = _cli_error(["robustness", str(tmp_path / "alien.pt"), *out], capsys)
    assert "cannot rebuild" in err
    # a checkpoint for another data set (wrong input size / classes)
    assert "image" in _cli_error(["robustness", good, *out, "--image-size", "8"], capsys)
    assert "does not exist" in _cli_error(["robustness", str(tmp_path / "x.pt"), *out], capsys)


def _cifar_tree(root: Path) -> data.ImageDataset:
    from datafiles import write_cifar_folder

    write_cifar_folder(root, "cifar10")
    return data.load("cifar10", split="test", root=root)


def _write_c(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    folder = root / "CIFAR-10-C"
    folder.mkdir(exist_ok=True)
    np.save(folder / "gaussian_noise.npy", images)
    np.save(folder / "labels.npy", labels)
    # replaced on purpose: forget the MD5s the loader recorded (resode.data.cifar_c_files)
    (folder / "resode_manifest.json").unlink(missing_ok=True)


def test_released_corruption_files(tmp_path):
    """'Corrupted' files that hold the clean test images give exactly the clean accuracy."""
    test = _cifar_tree(tmp_path)
    hwc = (test.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    _write_c(tmp_path, np.concatenate([hwc] * 5), np.tile(test.labels.numpy(), 5))
    torch.manual_seed(0)
    model = resode.create_model(
        "test_robust_linear", in_channels=3, image_size=32, mean=list(test.mean), std=list(test.std)
    )
    ck = _save(tmp_path / "c10.pt", model, dataset="cifar10", data_root=str(tmp_path))
    cfg = RobustnessConfig(
        corruptions=["gaussian"], corruption_source="files", attacks=["none"], n_samples=None
    )
    res = run_robustness([ck], tmp_path / "out", cfg, progress=False).models[0]
    assert all(v == res.clean for v in res.corruptions["gaussian_noise"].values())
    # wrong shape in the file → one-line ResodeError
    _write_c(tmp_path, np.zeros((10, 28, 28, 3), np.uint8), np.zeros(10, np.uint8))
    with pytest.raises(ResodeError, match="shape"):
        run_robustness([ck], None, cfg, progress=False)
    # labels that are not the test set's
    _write_c(tmp_path, np.concatenate([hwc] * 5), np.tile((test.labels.numpy() + 1) % 10, 5))
    with pytest.raises(ResodeError, match="labels"):
        run_robustness([ck], None, cfg, progress=False)
    # images of another size than the model's test images
    with pytest.raises(ResodeError, match="shape"):
        load_corruption_set(
            "cifar10",
            "gaussian",
            1,
            root=str(tmp_path),
            image_size=None,
            indices=torch.arange(2),
            labels=test.labels[:2],
            shape=(3, 16, 16),
        )
    # the file's 32×32 images resized to the model's test size, as the clean test set is
    _write_c(tmp_path, np.concatenate([hwc] * 5), np.tile(test.labels.numpy(), 5))
    small = load_corruption_set(
        "cifar10", "gaussian", 1, root=str(tmp_path), image_size=16,
        indices=torch.arange(2), labels=test.labels[:2], shape=(3, 16, 16),
    )  # fmt: skip
    clean16 = data.load("cifar10", split="test", root=tmp_path, image_size=16).images[:2]
    assert torch.allclose(small, clean16, atol=1 / 255)
    with pytest.raises(ResodeError, match="cifar10 or cifar100"):
        load_corruption_set(
            "digits", "gaussian", 1, root=None, image_size=None,
            indices=torch.arange(2), labels=test.labels[:2], shape=(1, 16, 16),
        )  # fmt: skip


def _direct_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(images).argmax(1) == labels


def test_engine_equals_direct_evaluation(models, digits8):
    """Every number of evaluate_models recomputed by hand: corrupt() and the attacks with the
    documented derived seeds, batch after batch; severity 5 noise costs accuracy."""
    from resode.attacks import make_attack
    from resode.corruptions import corrupt
    from resode.robustness import derive_seed

    x, y = digits8.images, digits8.labels
    cfg = RobustnessConfig(
        corruptions=["gaussian", "impulse"], severities=[1, 5], attacks=["fgsm", "pgd"],
        eps=[8 / 255, 32 / 255], steps=3, restarts=2, batch_size=25, seed=3,
    )  # fmt: skip
    surrogate = models[1][1]
    (res,) = evaluate_models(
        [models[0]], x, y, cfg, progress=False, surrogate=surrogate, checkpoints=["a.pt"]
    )
    m = models[0][1]
    assert (res.label, res.model, res.checkpoint, res.n) == ("a", "test_robust_linear", "a.pt", 60)
    clean = _direct_accuracy(m, x, y)
    assert res.clean == clean.sum().item() / 60
    assert set(res.seconds) == {"clean", "corruptions", "attacks"} | {
        f"attack/{a}" for a in ("fgsm", "pgd", "transfer-pgd")
    }
    assert all(v >= 0 for v in res.seconds.values())
    batches = [slice(i, i + 25) for i in range(0, 60, 25)]
    for c in ("gaussian_noise", "impulse_noise"):
        correct = 0
        for s in (1, 5):
            g = torch.Generator().manual_seed(derive_seed(3, c, s))
            xc = torch.cat([corrupt(x[b], c, s, g) for b in batches])
            ok = _direct_accuracy(m, xc, y)
            assert res.corruptions[c][str(s)] == ok.sum().item() / 60, (c, s)
            correct += int(ok.sum())
        assert res.corruptions[c]["pooled"] == correct / 120
    assert res.corruptions["impulse_noise"]["5"] < res.clean  # 7 % of pixels at 0 or 1
    robust = {lev: clean.clone() for lev in ("8/255", "32/255")}
    specs = [("fgsm", "fgsm", {}), ("pgd", "pgd", {"steps": 3, "restarts": 2})]
    specs.append(("transfer-pgd", "transfer", {"surrogate": surrogate, "steps": 3}))
    for display, name, kw in specs:
        for ei, (eps, lev) in enumerate(((8 / 255, "8/255"), (32 / 255, "32/255"))):
            attack = make_attack(name, m, eps=eps, **kw)
            g = torch.Generator().manual_seed(derive_seed(3, display, ei))
            ok = torch.cat(
                [_direct_accuracy(m, attack(x[b], y[b], generator=g), y[b]) for b in batches]
            )
            assert res.attacks[display][lev] == ok.sum().item() / 60, (display, lev)
            robust[lev] &= ok
    robust["32/255"] &= robust["8/255"]  # nested balls: fooled at 8/255 ⇒ fooled at 32/255
    assert res.robust == {lev: ok.sum().item() / 60 for lev, ok in robust.items()}
    assert res.attacks["pgd"]["32/255"] < res.clean


def test_released_corruption_files_that_differ_from_the_clean_images(tmp_path):
    """Each severity's slice of the file is what gets scored, not the clean images."""
    test = _cifar_tree(tmp_path)
    n = len(test)
    torch.manual_seed(0)
    model = resode.create_model(
        "test_robust_linear", in_channels=3, image_size=32, mean=list(test.mean), std=list(test.std)
    )
    with torch.no_grad():  # an exact fit of the clean test images: clean accuracy 1
        z = model[1](model[0](test.images))
        model[2].weight.copy_(
            10 * nn.functional.one_hot(test.labels, 10).T.float() @ torch.linalg.pinv(z).T
        )
        model[2].bias.zero_()
    assert _direct_accuracy(model, test.images, test.labels).all()
    hwc = (test.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    slices = [np.roll(hwc, s, axis=0) if s % 2 else hwc[:, ::-1] for s in range(5)]
    _write_c(tmp_path, np.concatenate(slices), np.tile(test.labels.numpy(), 5))
    ck = _save(tmp_path / "c10.pt", model, dataset="cifar10", data_root=str(tmp_path))
    cfg = RobustnessConfig(
        corruptions=["gaussian"], corruption_source="files", attacks=["none"], n_samples=None
    )
    res = run_robustness([ck], None, cfg, progress=False).models[0]
    assert res.clean == 1.0
    expected = []
    for s in range(1, 6):
        ds = data.load("cifar10-c", root=tmp_path, corruption="gaussian", severity=s)
        expected.append(_direct_accuracy(model, ds.images, ds.labels).sum().item() / n)
        assert res.corruptions["gaussian_noise"][str(s)] == expected[-1]
    assert min(expected) < 1.0 and len(set(expected)) > 1


def test_engine_on_an_empty_set_plain_model_and_l2(models, digits8, capsys):
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    cfg = RobustnessConfig(corruptions=["gaussian"], severities=[1], attacks=["fgsm"], eps=[0.5])
    cfg = cfg.replace(norm="L2")
    empty = evaluate_models(
        [("p", plain)], digits8.images[:0], digits8.labels[:0], cfg, progress=False
    )
    r = empty[0]
    assert r.model == "Sequential" and r.n == 0 and np.isnan(r.clean)
    assert np.isnan(r.corruptions["gaussian_noise"]["pooled"]) and np.isnan(
        r.attacks["fgsm"]["0.5"]
    )
    from resode.attacks import FGSM

    m = models[0][1]
    capsys.readouterr()
    cfg2 = cfg.replace(corruptions=["gaussian", "impulse"], severities=[1, 5])
    (res,) = evaluate_models([("a", m)], digits8.images, digits8.labels, cfg2)  # progress: on
    # one bar per model over 1 clean + 2·2 corruption + 1 attack evaluations
    assert re.search(r"a: .*/6(?![.\d])", capsys.readouterr().err)
    adv = FGSM(m, eps=0.5, norm="L2")(digits8.images, digits8.labels)
    expected = _direct_accuracy(m, adv, digits8.labels).sum().item() / len(digits8)
    assert res.attacks["fgsm"]["0.5"] == expected


def test_attack_specs_name_every_attack_the_config_asks_for() -> None:
    """(display name, attack, arguments) of each attack: iterative ones get the steps, PGD its
    restarts, AutoAttack the batch size, a surrogate a transfer attack named after its inner one."""
    from resode.robustness.evaluate import attack_specs

    cfg = RobustnessConfig(
        attacks=["fgsm", "pgd"], steps=7, restarts=2, autoattack=True, transfer_attack="ifgsm"
    )
    surrogate = nn.Linear(1, 1)
    specs = attack_specs(cfg, surrogate)
    assert [(d, a) for d, a, _ in specs] == [
        ("fgsm", "fgsm"),
        ("pgd", "pgd"),
        ("autoattack", "autoattack"),
        ("transfer-ifgsm", "transfer"),
    ]
    assert [kw for _, _, kw in specs[:3]] == [{}, {"steps": 7, "restarts": 2}, {"batch_size": 256}]
    assert specs[3][2] == {"surrogate": surrogate, "attack": "ifgsm", "steps": 7}


def test_evaluation_defaults_to_the_digits_eps_list() -> None:
    """Without ``dataset`` and ``eps``, the attacks run at the digits ε list (not CIFAR's)."""
    from resode.robustness import evaluate_models
    from resode.robustness.config import DEFAULT_EPS_LINF
    from resode.robustness.results import eps_label

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
    x, y = torch.rand(4, 1, 4, 4), torch.randint(0, 10, (4,))
    cfg = RobustnessConfig(attacks=["fgsm"], corruptions=[])
    (res,) = evaluate_models([("m", model)], x, y, cfg, progress=False)
    digits = [eps_label(e) for e in DEFAULT_EPS_LINF["digits"]]
    assert digits != [eps_label(e) for e in DEFAULT_EPS_LINF["cifar"]]
    assert list(res.attacks["fgsm"]) == digits


def test_cascade_gives_the_full_worst_case_with_less_work(models, digits8, monkeypatch):
    """Cascade (each attack only on the points still robust, larger ε only on the points robust
    at the smaller ones) against every attack on every clean-correct point: the same per-point
    worst case at every ε, the per_attack attacks' own accuracies identical, fewer gradient
    evaluations; the cumulative rows are non-increasing along the attacks and ε."""
    from resode.attacks.base import Attack

    grads = {"n": 0}
    real = Attack.loss_and_grad

    def counting(self, x, y, t):
        grads["n"] += int(x.shape[0])
        return real(self, x, y, t)

    monkeypatch.setattr(Attack, "loss_and_grad", counting)
    x, y = digits8.images, digits8.labels
    base = {
        "attacks": ["fgsm", "ifgsm", "pgd", "apgd-ce", "apgd-dlr"],
        "eps": [2 / 255, 8 / 255, 16 / 255, 32 / 255],
        "steps": 5,
        "apgd_steps": 8,
        "restarts": 2,
        "batch_size": 25,
        "corruptions": ["none"],
        "seed": 1,
    }
    out = {}
    for mode, over in (
        ("full", {"cascade": False}),
        ("cascade", {"cascade": True, "per_attack": ["fgsm", "pgd"]}),
    ):
        grads["n"] = 0
        (res,) = evaluate_models(
            [models[0]], x, y, RobustnessConfig(**base, **over), progress=False
        )
        out[mode] = (res, grads["n"])
    full, cas = out["full"][0], out["cascade"][0]
    levels = list(full.robust)
    for lev in levels:
        assert torch.equal(full.robust_points[lev], cas.robust_points[lev]), lev
    assert full.robust == cas.robust
    assert 0 < full.robust[levels[-1]] < full.robust[levels[1]] < full.clean  # not trivial
    assert set(full.attacks) == set(base["attacks"]) and set(cas.attacks) == {"fgsm", "pgd"}
    for a in ("fgsm", "pgd"):
        assert cas.attacks[a] == full.attacks[a]
    for lev in levels:  # full mode: the worst case is at most every attack's own accuracy
        assert full.robust[lev] <= min(v[lev] for v in full.attacks.values())
    for res in (full, cas):
        rows = list(res.cumulative.values())
        assert rows[-1] == res.robust
        for lev in levels:
            col = [r[lev] for r in rows]
            assert col == sorted(col, reverse=True)
        for r in rows:
            vals = [r[lev] for lev in levels]
            assert vals == sorted(vals, reverse=True)
    assert out["cascade"][1] < out["full"][1]
