"""The robustness evaluation engine: clean, noise-corrupted and adversarial accuracy of several
models on the same images.

For each model, on the same images (and the *same* corrupted images and the same attack random
starts for every model, so the comparison is paired: every random stream is seeded with
:func:`resode.evalset.derive_seed` from the evaluation seed and a key naming the stream):

* clean accuracy;
* per-corruption per-severity accuracy and the pooled accuracy over the severities evaluated
  (``resode.corruptions``, or the released CIFAR-10-C/100-C files through ``corruption_loader``);
* per-attack accuracy for every ε (``resode.attacks``: FGSM, IFGSM, PGD, APGD-CE, APGD-DLR;
  optionally standard AutoAttack and a transfer attack from a surrogate model);
* robust accuracy at each ε: the per-point worst case over the clean input, every attack of the
  declared set at that ε *and at every smaller ε* (the ε-balls are nested, so an adversarial
  example found at ε lies in every larger ball):
  ``robust_j = mean_i [f(x_i) = y_i ∧ ∀ A, ∀ ε_k ≤ ε_j: f(A_{ε_k}(x_i)) = y_i]`` (≤ every
  single-attack accuracy, ≤ clean accuracy, non-increasing in ε).

The cascade (``config.cascade``, the default) computes the same worst case with less work: one
clean pass is shared by every attack; at each ε (ascending) the attacks run in the declared
order (weakest first), each only on the points still robust — to the earlier attacks at this ε
and to every attack at a smaller ε — through the attacks' ``active`` mask (random starts are
still drawn for the whole batch, so a point's result does not depend on which other points are
attacked). What it cannot give is an attack's own accuracy, which needs that attack on every
clean-correct point: those of ``config.per_attack`` (the paper's table) are run on all of them
anyway; for the others ``cumulative[attack][ε]`` (the worst case over the attacks up to and
including it) is recorded instead. Without the cascade every attack runs on every clean-correct
point and every attack's own accuracy is recorded. Tested: both give the same per-point worst
case.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from resode.attacks import attack_entry, make_attack
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
            if specs:
                _attack_table(
                    model, images, labels, correct_clean, specs, eps_list, config, dev, res, bar
                )
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
    for a in config.attacks:  # already in the cascade's order (weakest first)
        specs.append((a, a, attack_entry(a).options(config)))
    if config.autoattack:
        specs.append(("autoattack", "autoattack", attack_entry("autoattack").options(config)))
    if surrogate is not None:
        kw = {"surrogate": surrogate, "attack": config.transfer_attack}
        if attack_entry(config.transfer_attack).step_size:
            kw["steps"] = config.steps
        specs.append((f"transfer-{config.transfer_attack}", "transfer", kw))
    return specs


def _attack_table(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    correct_clean: torch.Tensor,
    specs: list[tuple[str, str, dict[str, Any]]],
    eps_list: list[float],
    config: RobustnessConfig,
    dev: torch.device,
    res: ModelResult,
    bar: Any,
) -> None:
    """Per-attack accuracies, the cumulative worst case after each attack, and the per-point
    worst case at every ε into ``res`` (cascade or full; see the module docstring)."""
    alive = correct_clean.clone()  # robust to everything run so far (all smaller ε included)
    order = sorted(range(len(eps_list)), key=lambda i: eps_list[i])
    for ei in order:
        eps = eps_list[ei]
        lev = eps_label(eps, config.norm)
        for display, name, kw in specs:
            alone = config.reported_alone(display)
            t0 = time.perf_counter()
            ok = _attacked_correct(
                model,
                images,
                labels,
                correct_clean if alone else alive,
                display,
                name,
                kw,
                eps,
                ei,
                config,
                dev,
            )
            res.seconds[f"attack/{display}"] = res.seconds.get(f"attack/{display}", 0.0) + (
                time.perf_counter() - t0
            )
            if alone:
                res.attacks.setdefault(display, {})[lev] = _fraction(ok)
            alive &= ok
            res.cumulative.setdefault(display, {})[lev] = _fraction(alive)
            bar.update(1)
            bar.set_postfix_str(f"{display} ε={lev}")
        res.robust[lev] = _fraction(alive)
        res.robust_points[lev] = alive.clone()
    # report in the configured ε order
    res.robust = {
        eps_label(e, config.norm): res.robust[eps_label(e, config.norm)] for e in eps_list
    }


def _attacked_correct(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    active: torch.Tensor,
    display: str,
    name: str,
    kw: dict[str, Any],
    eps: float,
    ei: int,
    config: RobustnessConfig,
    dev: torch.device,
) -> torch.Tensor:
    """Per point: active and still correctly classified under attack ``name`` at ε. The attack's
    generator is seeded from (seed, attack, index of ε) and runs batch after batch over *all*
    points whatever ``active`` is, so every point gets the same random start in both modes."""
    entry = attack_entry(name)
    extra: dict[str, Any] = {"early_stop": config.early_stop} if entry.early_stop else {}
    if entry.step_size or (name == "transfer" and "steps" in kw):
        extra["alpha"] = config.step_size(eps)
    attack = make_attack(name, model, eps=eps, norm=config.norm, device=dev, **extra, **kw)
    g = torch.Generator().manual_seed(derive_seed(config.seed, display, ei))
    n, b = int(images.shape[0]), config.batch_size
    parts = []
    for i in range(0, n, b):
        act = active[i : i + b]
        if not bool(act.any()) and not attack.masks_inactive:
            parts.append(act.clone())  # nothing to attack and no random numbers to draw
            continue
        xb = images[i : i + b].to(dev)
        yb = labels[i : i + b].to(dev)
        adv = attack(xb, yb, generator=g, active=act.to(dev))
        parts.append(predict_correct(model, adv, yb, b, dev) & act)
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.bool)


__all__ = [
    "attack_specs",
    "corrupted_images",
    "corruption_loader_for",
    "evaluate_models",
    "evaluation_device",
    "load_corruption_set",
    "predict_correct",
]
