"""RobustBench interoperability: ``resode.benchmark`` (L2 at ε = 0.5 on digits with a linear model:
accuracy bounds, perturbation norms), the ``model_info`` JSON schema, the fallback set and its
declaration, transfer → ``external``/``unreliable``, the corruptions threat model on released-format
files, and ``resode benchmark``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import resode
from resode import data
from resode.attacks import autoattack_available
from resode.errors import ResodeError
from resode.nn import Normalize
from resode.robustness import benchmark as rb

N = 40  # the first N digits test images


@resode.register_model("_test_benchmark_linear", family="test")
def _linear(image_size: int = 8, channels: int = 1, mean=None, std=None) -> nn.Module:
    """Normalize → flatten → linear: an affine classifier, whose L2 margins are exact."""
    return nn.Sequential(
        Normalize(mean or [0.5] * channels, std or [0.25] * channels),
        nn.Flatten(),
        nn.Linear(channels * image_size * image_size, 10),
    )


def _fitted(seed: int, steps: int = 40) -> nn.Module:
    ds = data.load("digits", split="train", image_size=8)
    torch.manual_seed(seed)
    model = resode.create_model("_test_benchmark_linear", mean=list(ds.mean), std=list(ds.std))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(ds.images), ds.labels).backward()
        opt.step()
    return model.eval()


class _Quantised(nn.Module):
    """round(x·16)/16 in front of a model: zero input gradients (gradient masking)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 16) / 16)


def _test_images() -> tuple[torch.Tensor, torch.Tensor]:
    ds = data.load("digits", split="test", image_size=8)
    return ds.images[:N], ds.labels[:N]


def _certified_l2(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> float:
    """Fraction of the points no L2 perturbation of norm ≤ ε can misclassify, for an affine
    f(x) = A x + c (box constraint dropped, so a lower bound of any valid attack's accuracy):
    correct and min_{j≠y} (f_y − f_j)/‖a_y − a_j‖ > ε."""
    with torch.no_grad():
        logits = model(x)
    a = torch.autograd.functional.jacobian(model, x[:1]).reshape(logits.shape[1], -1)  # A
    safe = []
    for i in range(x.shape[0]):
        yi = int(y[i])
        margins = logits[i, yi] - logits[i]
        dist = margins / (a[yi] - a).norm(dim=1).clamp_min(1e-12)
        dist[yi] = float("inf")
        safe.append(bool(logits[i].argmax() == yi) and bool(dist.min() > eps))
    return sum(safe) / len(safe)


@pytest.mark.parametrize("attack", ["autoattack", "fallback"])
def test_l2_at_half_respects_the_ball_and_the_exact_bounds(attack: str, tmp_path: Path, capsys):
    if attack == "autoattack" and not autoattack_available():
        pytest.skip("pyautoattack is not installed")
    model = _fitted(0)
    x, y = _test_images()
    res = rb.evaluate_benchmark(
        model, x, y, dataset="digits", threat_model="L2", eps=0.5, attack=attack,
        fallback_steps=20, fallback_restarts=2, batch_size=64,
    )  # fmt: skip
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
    assert res.clean_acc == pytest.approx(clean) and res.n_examples == N
    # no attack can break a point farther than ε from every boundary; none can beat clean
    lower = _certified_l2(model, x, y, 0.5)
    assert lower <= res.robust_acc <= res.clean_acc
    # and on these digits the closest boundary points lie inside [0, 1]: an attack as strong as
    # the protocol asks breaks every point it can, reaching the bound exactly (0.725 here)
    assert res.robust_acc == lower
    assert res.robust_acc < res.clean_acc  # ε = 0.5 does break some digits
    assert 0 < res.max_perturbation <= 0.5 + 1e-5
    assert res.autoattack == (attack == "autoattack")
    assert ("not AutoAttack" in res.attack) == (attack == "fallback")
    assert res.flags["passed"] and not res.unreliable
    if attack == "fallback":  # the same numbers through RobustBench's signature, to disk
        args = dict(n_examples=N, dataset="digits", threat_model="L2", eps=0.5, image_size=8)
        clean2, robust2 = rb.benchmark(
            model, **args, to_disk=True, model_name="linear", out_dir=tmp_path, attack=attack,
            fallback_steps=20, fallback_restarts=2, batch_size=64, data_dir=None,
        )  # fmt: skip
        assert (clean2, robust2) == (res.clean_acc, res.robust_acc)
        printed = capsys.readouterr().out
        assert f"Clean accuracy: {clean2:.2%}" in printed and f"Attack: {res.attack}" in printed
    else:  # AutoAttack once (≈ 10 s of CPU): its entry through the writer
        clean2, robust2 = res.clean_acc, res.robust_acc
        rb.write_model_info(res, tmp_path, "linear")
    entry = json.loads((tmp_path / "model_info/digits/L2/linear.json").read_text())
    assert rb.validate_model_info(entry, "L2") == []
    assert list(entry) == [k for k in rb.MODEL_INFO_FIELDS if k in entry]  # RobustBench's order
    assert entry["eps"] == "0.5" and entry["clean_acc"] == str(round(100 * clean2, 2))
    assert entry["architecture"] == "_test_benchmark_linear" and "unreliable" not in entry
    if attack == "autoattack":
        assert entry["autoattack_acc"] == str(round(100 * robust2, 2)) and "external" not in entry
    else:  # a fallback number is never written as an AutoAttack number
        assert entry["autoattack_acc"] is None
        assert entry["external"] == str(round(100 * robust2, 2))
        assert "not AutoAttack" in entry["footnote"]


def test_masked_gradients_make_the_entry_unreliable_through_flags_and_transfer():
    plain = _fitted(0)
    masked = _Quantised(plain).eval()
    x, y = _test_images()
    res = rb.evaluate_benchmark(
        masked, x, y, dataset="digits", threat_model="L2", eps=0.5, attack="fallback",
        fallback_steps=10, fallback_restarts=1, transfer_from=[("plain", plain)],
    )  # fmt: skip
    assert not res.flags["passed"] and "zero input gradient" in res.flags["reason"]
    assert res.robust_acc == res.clean_acc  # the white-box attacks get no gradient at all
    assert res.external_acc is not None and res.external_acc < res.robust_acc
    assert res.external_acc <= res.transfer_acc["plain"]
    entry = rb.model_info_entry(res, "masked")
    assert entry["unreliable"] is True and float(entry["external"]) < float(entry["clean_acc"])
    assert rb.validate_model_info(entry, "L2") == []


def test_the_schema_validator_rejects_what_robustbench_would_not():
    good = {
        "link": "", "name": "m", "authors": "", "additional_data": False,
        "number_forward_passes": 1, "dataset": "cifar10", "venue": "", "architecture": "ResNet-20",
        "eps": "8/255", "clean_acc": "90.0", "reported": None, "autoattack_acc": "10.5",
        "footnote": None,
    }  # fmt: skip
    assert rb.validate_model_info(good, "Linf") == []
    assert any(
        "exceeds" in p for p in rb.validate_model_info({**good, "autoattack_acc": "95"}, "Linf")
    )
    assert any("unknown field" in p for p in rb.validate_model_info({**good, "acc": "1"}, "Linf"))
    assert any("eps" in p for p in rb.validate_model_info({**good, "eps": 0.03}, "Linf"))
    assert any("eps must be null" in p for p in rb.validate_model_info(good, "corruptions"))
    assert any("percent" in p for p in rb.validate_model_info({**good, "clean_acc": 0.9}, "Linf"))
    assert rb.eps_text(8 / 255, "Linf") == "8/255" and rb.eps_text(0.5, "L2") == "0.5"
    with pytest.raises(ResodeError, match="needs eps"):
        rb.benchmark(_fitted(0), dataset="digits", threat_model="Linf", verbose=False)
    with pytest.raises(ResodeError, match="takes no eps"):
        rb.benchmark(_fitted(0), dataset="digits", threat_model="corruptions", eps=0.1)
    with pytest.raises(ResodeError, match="threat_model must be one of"):
        rb.benchmark(_fitted(0), dataset="digits", threat_model="L1", eps=0.1)


def test_corruptions_threat_model_is_the_mean_over_released_files_and_severities(tmp_path):
    from datafiles import write_cifar_folder, write_released_cifar_c
    from resode.data.cifar_c_files import BENCHMARK_CORRUPTIONS, RELEASED_CORRUPTIONS

    write_cifar_folder(tmp_path, "cifar10")
    test = data.load("cifar10", split="test", root=tmp_path)
    hwc = (test.images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    write_released_cifar_c(tmp_path, hwc, test.labels.numpy(), RELEASED_CORRUPTIONS)
    torch.manual_seed(0)
    model = resode.create_model(
        "_test_benchmark_linear",
        image_size=32,
        channels=3,
        mean=list(test.mean),
        std=list(test.std),
    ).eval()
    n = len(test)
    kw = dict(dataset="cifar10", threat_model="corruptions", data_dir=str(tmp_path), n_examples=n)
    clean, mean15 = rb.benchmark(model, **kw, verbose=False)
    _, mean19 = rb.benchmark(model, **kw, corruptions="all", verbose=False)

    def direct(names: tuple[str, ...]) -> float:
        accs = []
        for c in names:
            for s in range(1, 6):
                ds = data.load("cifar10-c", root=tmp_path, corruption=c, severity=s)
                with torch.no_grad():
                    accs.append((model(ds.images).argmax(1) == ds.labels).float().mean().item())
        return float(np.mean(accs))

    assert mean15 == pytest.approx(direct(BENCHMARK_CORRUPTIONS))
    assert mean19 == pytest.approx(direct(RELEASED_CORRUPTIONS))
    with torch.no_grad():
        assert clean == pytest.approx(
            (model(test.images).argmax(1) == test.labels).float().mean().item()
        )
    res = rb.evaluate_benchmark(
        model, test.images, test.labels, dataset="cifar10", threat_model="corruptions",
        corruption_images={("fog", 1): test.images},
    )  # fmt: skip
    entry = rb.model_info_entry(res, "m")
    assert entry["eps"] is None and entry["corruptions_acc"] == entry["clean_acc"]
    assert rb.validate_model_info(entry, "corruptions") == []
    with pytest.raises(ResodeError, match="cifar10 or cifar100"):
        rb.benchmark(_fitted(0), dataset="digits", threat_model="corruptions", image_size=8)


def test_benchmark_cli_writes_one_entry_per_checkpoint_with_transfer(tmp_path, capsys):
    from resode.cli import main

    paths = []
    for seed in (0, 1):
        p = tmp_path / f"lin{seed}.pt"
        resode.save_checkpoint(
            p, _fitted(seed, steps=20 + 20 * seed), config={"dataset": "digits", "image_size": 8}
        )
        paths.append(str(p))
    out = tmp_path / "rb"
    args = ["benchmark", *paths, "--out", str(out), "--threat-model", "L2", "--eps", "0.5"]
    args += ["--n-examples", "24", "--attack", "fallback", "--fallback-steps", "5"]
    args += ["--fallback-restarts", "1", "--reported", "50", "40"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("not AutoAttack") == 2
    summary = json.loads((out / "benchmark.json").read_text())
    assert [r["label"] for r in summary["results"]] == ["lin0", "lin1"]
    for r, rep in zip(summary["results"], ("50.0", "40.0")):
        entry = json.loads((out / r["entry"]).read_text())
        assert rb.validate_model_info(entry, "L2") == [] and entry["reported"] == rep
        assert r["n_examples"] == 24 and list(r["transfer_acc"]) == [
            "lin1" if r["label"] == "lin0" else "lin0"
        ]
        assert r["external_acc"] <= r["robust_acc"] <= r["clean_acc"]
        assert float(entry["external"]) == round(100 * r["external_acc"], 2)
    bad = ["benchmark", paths[0], "--out", str(tmp_path / "rb2"), "--threat-model", "corruptions"]
    assert main([*bad, "--eps", "0.5"]) == 2
    assert "takes no eps" in capsys.readouterr().err
