"""Shared helpers of the power study (uses resode read-only)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from resode.attacks import FGSM, IFGSM, PGD
from resode.corruptions import (
    CORRUPTION_PARAMETERS,
    gaussian_noise,
    impulse_noise,
    shot_noise,
    speckle_noise,
)
from resode.training import get_preset, train

NOISE_FN = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
}


def scaled_param(name: str, severity: int, mult: float) -> float:
    """CIFAR-C parameter scaled by mult: σ·m (gaussian, speckle), amount·m (impulse), c/m (shot)."""
    p = CORRUPTION_PARAMETERS[name][severity - 1]
    if name == "shot_noise":
        return p / mult
    if name == "impulse_noise":
        return min(p * mult, 1.0)
    return p * mult


def bits(t: torch.Tensor) -> str:
    return "".join("1" if b else "0" for b in t.tolist())


@torch.no_grad()
def correct(model, x, y) -> torch.Tensor:
    return model(x).argmax(1) == y


def train_run(
    model: str,
    seed: int,
    image_size: int,
    epochs: int,
    batch: int,
    train_subset: int | None = None,
    lr: float = 0.1,
    eval_every: int = 1,
    **extra,
):
    cfg = get_preset(
        "digits",
        model=model,
        seed=seed,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch,
        threads=1,
        device="cpu",
        train_subset=train_subset,
        lr=lr,
        eval_every=eval_every,
        **extra,
    )
    with tempfile.TemporaryDirectory() as d:
        t0, w0 = time.process_time(), time.perf_counter()
        res = train(cfg, Path(d) / "run", progress=False)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    hist = [
        {
            k: h[k]
            for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "lambdas")
        }
        for h in res.history
    ]
    return res.model, {
        "train_cpu_s": cpu,
        "train_wall_s": wall,
        "history": hist,
        "config": cfg.to_dict(),
    }


def alpha_rule(eps: float, steps: int, rule: str) -> float:
    if rule == "fixed":
        return 1 / 255
    return max(1 / 255, 2.5 * eps / steps)


def evaluate(
    model,
    x,
    y,
    *,
    eps_grid,
    mults,
    steps=20,
    alpha="scaled",
    early_stop=True,
    attacks=("fgsm", "ifgsm", "pgd"),
    seed=0,
    extra_pgd=(),
):
    """Per-sample correctness for clean, noise (4 × 5 severities × multipliers) and attacks."""
    model.eval()
    out: dict = {"n": len(y), "cpu_s": {}}
    t0 = time.process_time()
    out["clean"] = bits(correct(model, x, y))
    out["cpu_s"]["clean"] = time.process_time() - t0
    t0 = time.process_time()
    noise = {}
    for m in mults:
        for name, fn in NOISE_FN.items():
            for s in range(1, 6):
                g = torch.Generator().manual_seed(
                    1000 * s + 17 * list(NOISE_FN).index(name) + 7919 * int(100 * m)
                )
                xc = fn(x, scaled_param(name, s, m), g)
                noise[f"{m}|{name}|{s}"] = bits(correct(model, xc, y))
    out["noise"] = noise
    out["cpu_s"]["noise"] = time.process_time() - t0
    out["attacks"] = {}
    specs = [(a, alpha, early_stop) for a in attacks] + list(extra_pgd)
    for a, arule, es in specs:
        key = f"{a}|{arule}|{'es' if es else 'full'}"
        t0 = time.process_time()
        res = {}
        for ei, e in enumerate(eps_grid):
            if a == "fgsm":
                atk = FGSM(model, eps=e, early_stop=es)
            elif a == "ifgsm":
                atk = IFGSM(
                    model, eps=e, steps=steps, alpha=alpha_rule(e, steps, arule), early_stop=es
                )
            else:
                atk = PGD(
                    model, eps=e, steps=steps, alpha=alpha_rule(e, steps, arule), early_stop=es
                )
            g = torch.Generator().manual_seed(seed * 1000 + ei)
            adv = atk(x, y, generator=g)
            res[f"{e * 255:g}"] = bits(correct(model, adv, y))
        out["attacks"][key] = res
        out["cpu_s"][key] = time.process_time() - t0
    return out


def save(path, obj):
    Path(path).write_text(json.dumps(obj))
