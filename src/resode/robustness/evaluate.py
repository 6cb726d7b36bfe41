"""The robustness evaluation engine: clean, noise-corrupted and adversarial accuracy of several
models on the same images.

For each model, on the same images (and the *same* corrupted images and the same attack random
starts for every model, so the comparison is paired: every random stream is seeded with
:func:`resode.evalset.derive_seed` from the evaluation seed and a key naming the stream):

* clean accuracy;
* per-corruption per-severity accuracy and the pooled accuracy over the severities evaluated
  (``resode.corruptions``, or the released CIFAR-10-C/100-C files through ``corruption_loader``);
* per-attack accuracy for every ε (``resode.attacks``: FGSM, IFGSM, PGD; optionally standard
  AutoAttack and a transfer attack from a surrogate model);
* robust accuracy at each ε: the per-sample worst case over the clean input and every attack run,
  ``mean_i [f(x_i) = y_i ∧ f(A_1(x_i)) = y_i ∧ … ∧ f(A_k(x_i)) = y_i]`` (≤ every single-attack
  accuracy and ≤ clean accuracy).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from resode.attacks import make_attack
from resode.corruptions import corrupt, corruption_label
from resode.errors import ResodeError
from resode.evalset import derive_seed
from resode.robustness.config import RobustnessConfig
from resode.robustness.results import ModelResult, eps_label


def _fraction(ok: torch.Tensor) -> float:
    """Exact accuracy k/n of a boolean vector (NaN when empty)."""
    return int(ok.sum()) / ok.numel() if ok.numel() else math.nan


@torch.no_grad()
def predict_correct(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int, device: Any
) -> torch.Tensor:
    """Boolean (N,) on CPU: argmax model(x_i) = y_i, batched, inference mode, eval mode."""
    out = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(device)
            y = labels[i : i + batch_size].to(device)
            out.append((model(x).argmax(dim=1) == y).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool)


def load_corruption_set(
    dataset: str,
    corruption: str,
    severity: int,
    *,
    root: str | None,
    image_size: int | None,
    indices: torch.Tensor,
    labels: torch.Tensor,
    shape: tuple[int, ...],
) -> torch.Tensor:
    """Images of the released ``<dataset>-C`` file at ``severity`` for the test ``indices``.

    Checks that the file matches the clean test set: per-image shape ``shape`` and the labels.
    """
    from resode import data

    if dataset not in ("cifar10", "cifar100"):
        raise ResodeError(
            f"corruption_source = files needs data set cifar10 or cifar100 (the released "
            f"CIFAR-10-C/100-C files), not {dataset!r}; use corruption_source = generated"
        )
    kw: dict[str, Any] = {"root": root, "corruption": corruption, "severity": severity}
    if image_size is not None:
        kw["image_size"] = image_size
    ds = data.load(f"{dataset}-c", split="test", **kw)
    if tuple(ds.images.shape[1:]) != tuple(shape):
        raise ResodeError(
            f"{dataset}-c {corruption} images have shape {tuple(ds.images.shape[1:])} but the "
            f"model's test images are {tuple(shape)}; check --data-root and --image-size"
        )
    if indices.numel() and len(ds) <= int(indices.max()):
        raise ResodeError(
            f"{dataset}-c {corruption} severity {severity} holds {len(ds)} images, fewer than the "
            "test set; the file is incomplete"
        )
    sub = ds.subset(indices)
    if not torch.equal(sub.labels, labels):
        raise ResodeError(
            f"{dataset}-c labels do not match the {dataset} test labels; the CIFAR-C files must "
            "hold the test set in its original order"
        )
    return sub.images


def corruption_loader_for(config: RobustnessConfig, ev: Any) -> Any:
    """``loader(name, severity) -> images`` reading the released ``<dataset>-C`` files for the
    evaluation set ``ev`` (:class:`resode.evalset.EvalSet`) when ``config.corruption_source`` is
    ``files``; ``None`` (generated noise) otherwise. Shared by ``resode robustness`` and
    ``resode reproduce``."""
    if not config.corruptions or config.corruption_source != "files":
        return None

    def loader(name: str, severity: int) -> torch.Tensor:
        return load_corruption_set(
            ev.dataset,
            name,
            severity,
            root=ev.data_root,
            image_size=ev.image_size,
            indices=torch.tensor(ev.indices),
            labels=ev.labels,
            shape=tuple(ev.images.shape[1:]),
        )

    return loader


def evaluation_device(config: RobustnessConfig) -> torch.device:
    """The device of a robustness evaluation, resolved once from ``config.device``
    (:func:`resode.runtime.select_device`); ``resode robustness`` and ``resode reproduce`` both
    pass it to :func:`evaluate_models` and run the per-run analyses on it."""
    from resode.runtime import select_device

    return select_device(config.device)


def evaluate_models(
    models: list[tuple[str, nn.Module]],
    images: torch.Tensor,
    labels: torch.Tensor,
    config: RobustnessConfig,
    *,
    dataset: str = "digits",
    surrogate: nn.Module | None = None,
    corruption_loader: Any = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    checkpoints: list[str | None] | None = None,
) -> list[ModelResult]:
    """Evaluate every ``(label, model)`` on ``images``/``labels`` (float [0,1] NCHW, int64).

    ``corruption_loader(name, severity) -> images`` replaces generated noise (released files).
    The models are left in their original mode.
    """
    from tqdm.auto import tqdm

    dev = torch.device(device) if device is not None else torch.device("cpu")
    eps_list = config.resolved_eps(dataset)
    if surrogate is not None:
        surrogate = surrogate.to(dev)
    specs = attack_specs(config, surrogate)
    n_noise = len(config.corruptions) * len(config.severities) * len(config.noise_strengths)
    total = 1 + n_noise + len(specs) * len(eps_list)
    cache: dict[tuple[str, int], torch.Tensor] = {}
    results = []
    for mi, (label, model) in enumerate(models):
        model = model.to(dev)
        res = ModelResult(
            label=label,
            model=str(getattr(model, "resode_spec", {}).get("name", type(model).__name__)),
            checkpoint=checkpoints[mi] if checkpoints else None,
            n=int(images.shape[0]),
        )
        bar = tqdm(total=total, desc=label, disable=not progress, leave=False)
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            t0 = time.perf_counter()
            correct_clean = predict_correct(model, images, labels, config.batch_size, dev)
            res.clean = _fraction(correct_clean)
            res.seconds["clean"] = time.perf_counter() - t0
            bar.update(1)
            t0 = time.perf_counter()
            for s in config.noise_strengths:
                for c in config.corruptions:
                    res.corruptions[corruption_label(c, s)] = _corruption_accuracies(
                        model, images, labels, c, config, dev, corruption_loader, cache, bar, s
                    )
            res.seconds["corruptions"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            robust = {eps_label(e, config.norm): correct_clean.clone() for e in eps_list}
            for display, name, kw in specs:
                res.attacks[display] = _attack_accuracies(
                    model, images, labels, display, name, kw, eps_list, config, dev, robust, bar
                )
            if specs:
                res.robust = {k: _fraction(v) for k, v in robust.items()}
            res.seconds["attacks"] = time.perf_counter() - t0
        finally:
            for m, mode in modes:
                m.training = mode
            bar.close()
        results.append(res)
    return results


def corrupted_images(
    images: torch.Tensor,
    name: str,
    severity: int,
    config: RobustnessConfig,
    device: Any,
    strength: float = 1.0,
) -> torch.Tensor:
    """The generated corruption ``name`` at ``severity`` (× ``strength``): batch after batch from
    one generator seeded with derive_seed(seed, label, severity), so every model sees the same
    noisy images."""
    if not images.shape[0]:
        return images
    label = corruption_label(name, strength)
    g = torch.Generator(device=device).manual_seed(derive_seed(config.seed, label, severity))
    b = config.batch_size
    return torch.cat(
        [
            corrupt(images[i : i + b].to(device), name, severity, g, strength=strength).cpu()
            for i in range(0, images.shape[0], b)
        ]
    )


def _corruption_accuracies(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    name: str,
    config: RobustnessConfig,
    dev: torch.device,
    loader: Any,
    cache: dict[tuple[str, int], torch.Tensor],
    bar: Any,
    strength: float = 1.0,
) -> dict[str, float]:
    """Accuracy at every severity of one corruption, and pooled over the severities."""
    n = int(images.shape[0])
    accs: dict[str, float] = {}
    n_correct = 0
    for s in config.severities:
        if loader is not None:
            if (name, s) not in cache:
                cache[(name, s)] = loader(name, s)
            xc = cache[(name, s)]
        else:
            xc = corrupted_images(images, name, s, config, dev, strength)
        ok = predict_correct(model, xc, labels, config.batch_size, dev)
        accs[str(s)] = _fraction(ok)
        n_correct += int(ok.sum())
        bar.update(1)
        bar.set_postfix_str(f"{name} s{s}")
    accs["pooled"] = n_correct / (n * len(config.severities)) if n else math.nan
    return accs


def attack_specs(
    config: RobustnessConfig, surrogate: nn.Module | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(display name, attack name, keyword arguments) of every attack the config asks for."""
    specs: list[tuple[str, str, dict[str, Any]]] = []
    for a in config.attacks:
        kw: dict[str, Any] = {}
        if a in ("ifgsm", "pgd"):
            kw = {"steps": config.steps}
        if a == "pgd":
            kw["restarts"] = config.restarts
        specs.append((a, a, kw))
    if config.autoattack:
        specs.append(("autoattack", "autoattack", {"batch_size": config.batch_size}))
    if surrogate is not None:
        kw = {"surrogate": surrogate, "attack": config.transfer_attack}
        if config.transfer_attack in ("ifgsm", "pgd"):
            kw["steps"] = config.steps
        specs.append((f"transfer-{config.transfer_attack}", "transfer", kw))
    return specs


def _attack_accuracies(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    display: str,
    name: str,
    kw: dict[str, Any],
    eps_list: list[float],
    config: RobustnessConfig,
    dev: torch.device,
    robust: dict[str, torch.Tensor],
    bar: Any,
) -> dict[str, float]:
    """Accuracy under one attack at every ε; ``robust`` (per-sample correctness) is and-ed."""
    out: dict[str, float] = {}
    n = int(images.shape[0])
    for ei, eps in enumerate(eps_list):
        lev = eps_label(eps, config.norm)
        extra: dict[str, Any] = {} if name == "autoattack" else {"early_stop": config.early_stop}
        if "steps" in kw:
            extra["alpha"] = config.step_size(eps)
        attack = make_attack(name, model, eps=eps, norm=config.norm, device=dev, **extra, **kw)
        g = torch.Generator().manual_seed(derive_seed(config.seed, display, ei))
        ok_parts = []
        for i in range(0, n, config.batch_size):
            xb = images[i : i + config.batch_size].to(dev)
            yb = labels[i : i + config.batch_size].to(dev)
            adv = attack(xb, yb, generator=g)
            ok_parts.append(predict_correct(model, adv, yb, config.batch_size, dev))
        ok = torch.cat(ok_parts) if ok_parts else torch.zeros(0, dtype=torch.bool)
        out[lev] = _fraction(ok)
        robust[lev] &= ok
        bar.update(1)
        bar.set_postfix_str(f"{display} ε={lev}")
    return out


__all__ = [
    "attack_specs",
    "corrupted_images",
    "corruption_loader_for",
    "evaluate_models",
    "evaluation_device",
    "load_corruption_set",
    "predict_correct",
]
