"""Robustness evaluation engine: noise corruptions and adversarial attacks, several models at once.

For each model, on the same seeded subset of the test set (and the *same* corrupted images and the
same attack random starts for every model, so the comparison is paired):

* clean accuracy;
* per-corruption per-severity accuracy and the pooled accuracy over the severities evaluated
  (``resode.corruptions``, or the released CIFAR-10-C/100-C files with
  ``corruption_source="files"``);
* per-attack accuracy for every ε (``resode.attacks``: FGSM, IFGSM, PGD; optionally standard
  AutoAttack and a transfer attack from a surrogate checkpoint);
* robust accuracy at each ε: the per-sample worst case over the clean input and every attack run,
  ``mean_i [f(x_i) = y_i ∧ f(A_1(x_i)) = y_i ∧ … ∧ f(A_k(x_i)) = y_i]`` (≤ every single-attack
  accuracy and ≤ clean accuracy).

Default ε (L∞, pixel units): CIFAR {1, 2, 4, 8}/255, the paper's protocol (``papers.md`` A.4).
Digits {2, 4, 8, 16}/255: the 8×8 digits have 17 grey levels, one level = 1/16 ≈ 16/255, so the
range spans 1/8 of a native grey level up to one level, the largest change that is still below
the data's own quantisation (the 16×16 upsampling interpolates between levels). L2 defaults:
CIFAR {0.125, 0.25, 0.5} (0.5 the common L2 budget), digits {0.25, 0.5, 1.0} (same per-pixel
budget: digits has 256 values per image against CIFAR's 3072, so ×√12 ≈ 3.5 less energy at equal
ε; the larger values keep the attacks meaningful).

:func:`run_robustness` loads checkpoints and writes ``results.json`` (config, seeds, environment,
all numbers), ``results.csv`` (one row per number) and ``report.md`` (one table, models side by
side).
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from resode.attacks import canonical_attack_name, check_eps, make_attack
from resode.config import Config, option
from resode.corruptions import SEVERITIES, canonical_name, corrupt, list_corruptions
from resode.errors import ConfigError, ResodeError

WHITE_BOX_ATTACKS = ("fgsm", "ifgsm", "pgd")
DEFAULT_EPS_LINF = {
    "digits": [2 / 255, 4 / 255, 8 / 255, 16 / 255],
    "cifar": [1 / 255, 2 / 255, 4 / 255, 8 / 255],
}
DEFAULT_EPS_L2 = {"digits": [0.25, 0.5, 1.0], "cifar": [0.125, 0.25, 0.5]}


@dataclass
class RobustnessConfig(Config):
    """Options of ``resode robustness`` (shared by the CLI and :func:`run_robustness`)."""

    dataset: str | None = option(None, "data set (default: the one recorded in the checkpoint)")
    data_root: str | None = option(None, "folder holding the data sets (default: checkpoint's)")
    image_size: int | None = option(None, "resize images (default: the checkpoint's)", min=4)
    n_samples: int | None = option(
        1000, "evaluate on a seeded random subset of N test images (None: all)", min=1
    )
    batch_size: int = option(256, "evaluation batch size", min=1)
    attacks: list[str] = option(
        list(WHITE_BOX_ATTACKS), "white-box attacks: fgsm ifgsm pgd (or none)"
    )
    norm: Literal["Linf", "L2"] = option("Linf", "threat model of the attacks")
    eps: list[float] | None = option(
        None,
        "attack radii in pixel units, e.g. 2/255 4/255 or 0.5 for L2 "
        "(default: CIFAR {1,2,4,8}/255, digits {2,4,8,16}/255)",
        pixels=True,
    )
    steps: int = option(20, "IFGSM/PGD iterations", min=0)
    alpha: float | None = option(
        None,
        "IFGSM/PGD step size (default: 1/255 for L∞, 2.5·eps/steps for L2)",
        min=0.0,
        pixels=True,
    )
    restarts: int = option(1, "PGD random restarts (per-sample worst case kept)", min=1)
    early_stop: bool = option(True, "stop attacking a sample once it is misclassified")
    autoattack: bool = option(False, "also run standard AutoAttack (needs resode[autoattack])")
    surrogate: str | None = option(None, "surrogate checkpoint for a transfer attack")
    transfer_attack: str = option("pgd", "attack run on the surrogate", choices=WHITE_BOX_ATTACKS)
    corruptions: list[str] = option(
        list_corruptions(),
        "noise corruptions: gaussian_noise shot_noise impulse_noise speckle_noise (or none)",
    )
    severities: list[int] = option(list(SEVERITIES), "corruption severities", min=1, max=5)
    corruption_source: Literal["generated", "files"] = option(
        "generated", "generate the noise, or read the released CIFAR-10-C/100-C .npy files"
    )
    seed: int = option(0, "seed of the subset, the corruption noise and the attack starts", min=0)
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    threads: int | None = option(None, "CPU threads for torch (default: torch's choice)", min=1)

    def check(self) -> None:
        if [a.lower() for a in self.attacks] == ["none"]:
            self.attacks = []
        if [c.lower() for c in self.corruptions] == ["none"]:
            self.corruptions = []
        attacks = []
        for a in self.attacks:
            name = canonical_attack_name(a)
            if name not in WHITE_BOX_ATTACKS:
                raise ConfigError(
                    f"attacks = {a!r}: use --autoattack for AutoAttack and --surrogate CKPT for "
                    f"the transfer attack; --attacks takes {', '.join(WHITE_BOX_ATTACKS)}"
                )
            if name not in attacks:
                attacks.append(name)
        self.attacks = attacks
        corrs = []
        for c in self.corruptions:
            name = canonical_name(c)
            if name not in corrs:
                corrs.append(name)
        self.corruptions = corrs
        self.severities = sorted(set(self.severities))
        if self.eps is not None:
            if not self.eps:
                raise ConfigError("eps must list at least one radius")
            self.eps = sorted({check_eps(e, self.norm) for e in self.eps})
        if self.alpha is not None and self.alpha <= 0:
            raise ConfigError("alpha must be > 0")

    def resolved_eps(self, dataset: str) -> list[float]:
        """``eps`` if given, else the default list for ``dataset`` and ``norm``."""
        if self.eps is not None:
            return list(self.eps)
        table = DEFAULT_EPS_LINF if self.norm == "Linf" else DEFAULT_EPS_L2
        return list(table["digits" if dataset == "digits" else "cifar"])


# --------------------------------------------------------------------------------------------
# results


def eps_label(eps: float, norm: str = "Linf") -> str:
    """``8/255`` when ε·255 is an integer (L∞), else a short decimal."""
    k = eps * 255
    if norm == "Linf" and abs(k - round(k)) < 1e-6:
        return f"{round(k)}/255"
    return f"{eps:.4g}"


@dataclass
class ModelResult:
    """All accuracies of one model; ``correct_*`` hold the per-sample booleans."""

    label: str
    model: str
    checkpoint: str | None
    n: int
    clean: float = math.nan
    corruptions: dict[str, dict[str, float]] = field(default_factory=dict)
    attacks: dict[str, dict[str, float]] = field(default_factory=dict)
    robust: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model": self.model,
            "checkpoint": self.checkpoint,
            "n": self.n,
            "clean": self.clean,
            "corruptions": self.corruptions,
            "attacks": self.attacks,
            "robust": self.robust,
            "seconds": self.seconds,
        }


@dataclass
class RobustnessResult:
    config: RobustnessConfig
    dataset: str
    eps: list[float]
    indices: list[int]
    models: list[ModelResult]
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "dataset": self.dataset,
            "n_samples": len(self.indices),
            "eps": self.eps,
            "eps_labels": [eps_label(e, self.config.norm) for e in self.eps],
            "indices": self.indices,
            "environment": self.environment,
            "models": [m.to_dict() for m in self.models],
        }

    # ---- tables
    def rows(self) -> list[dict[str, Any]]:
        """Long format: one row per (model, metric)."""
        out: list[dict[str, Any]] = []
        for m in self.models:
            base = {"label": m.label, "model": m.model, "checkpoint": m.checkpoint, "n": m.n}
            out.append({**base, "kind": "clean", "name": "clean", "level": "", "accuracy": m.clean})
            for c, accs in m.corruptions.items():
                for lev, acc in accs.items():
                    out.append(
                        {**base, "kind": "corruption", "name": c, "level": lev, "accuracy": acc}
                    )
            for a, accs in m.attacks.items():
                for lev, acc in accs.items():
                    out.append({**base, "kind": "attack", "name": a, "level": lev, "accuracy": acc})
            for lev, acc in m.robust.items():
                out.append(
                    {**base, "kind": "robust", "name": "robust", "level": lev, "accuracy": acc}
                )
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        fields = ["label", "model", "checkpoint", "n", "kind", "name", "level", "accuracy"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({**row, "accuracy": f"{row['accuracy']:.6f}"})
        return buf.getvalue()

    def to_markdown(self) -> str:
        cfg = self.config
        n = len(self.indices)
        labels = [m.label for m in self.models]
        lines = [
            "# Robustness evaluation",
            "",
            f"Data set **{self.dataset}** (test split), {n} images (seeded subset, seed "
            f"{cfg.seed}); accuracies in %. Attacks: untargeted, cross-entropy, eval mode, "
            f"{cfg.norm}, [0, 1] pixel space, projection around the clean image; IFGSM/PGD "
            f"{cfg.steps} steps"
            + (f", {cfg.restarts} PGD restart(s)" if "pgd" in cfg.attacks else "")
            + ". Robust = per-sample worst case over the clean image and every attack at that ε. "
            f"Standard error of an accuracy p: √(p(1−p)/{n}) (≤ {50 / math.sqrt(max(n, 1)):.1f} "
            "points).",
            "",
            "| metric | " + " | ".join(labels) + " |",
            "|---|" + "---:|" * len(labels),
            "| model | " + " | ".join(m.model for m in self.models) + " |",
        ]

        def row(name: str, values: list[float]) -> None:
            lines.append(f"| {name} | " + " | ".join(f"{100 * v:.2f}" for v in values) + " |")

        row("clean", [m.clean for m in self.models])
        for c in cfg.corruptions:
            levels = list(self.models[0].corruptions.get(c, {}))
            for lev in levels:
                name = f"{c} (pooled)" if lev == "pooled" else f"{c} s{lev}"
                row(name, [m.corruptions[c][lev] for m in self.models])
        attack_names = list(self.models[0].attacks) if self.models else []
        for a in attack_names:
            for lev in self.models[0].attacks[a]:
                row(f"{a} ε={lev}", [m.attacks[a][lev] for m in self.models])
        for lev in self.models[0].robust if self.models else []:
            row(f"**robust** ε={lev}", [m.robust[lev] for m in self.models])
        lines += [
            "",
            "Seconds per model: "
            + ", ".join(f"{m.label} {sum(m.seconds.values()):.1f}" for m in self.models),
            "",
        ]
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": out / "results.json",
            "csv": out / "results.csv",
            "markdown": out / "report.md",
        }
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        paths["csv"].write_text(self.to_csv())
        paths["markdown"].write_text(self.to_markdown())
        return paths


# --------------------------------------------------------------------------------------------
# engine


def derive_seed(seed: int, *key: object) -> int:
    """A stable 63-bit seed from ``seed`` and a key (same key → same stream for every model)."""
    h = zlib.crc32(repr(key).encode())
    return (seed * 1_000_003 + h) % (2**63)


def subset_indices(n_total: int, n: int | None, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded random subset of size ``n`` (all when ``n`` is None or ≥ N)."""
    if n is None or n >= n_total:
        return torch.arange(n_total)
    g = torch.Generator().manual_seed(derive_seed(seed, "subset"))
    return torch.randperm(n_total, generator=g)[:n].sort().values


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
    n = int(images.shape[0])
    n_attacks = len(config.attacks) + int(config.autoattack) + int(surrogate is not None)
    total = 1 + len(config.corruptions) * len(config.severities) + n_attacks * len(eps_list)
    if surrogate is not None:
        surrogate = surrogate.to(dev)
    results = []
    corrupted_cache: dict[tuple[str, int], torch.Tensor] = {}
    for mi, (label, model) in enumerate(models):
        model = model.to(dev)
        res = ModelResult(
            label=label,
            model=str(getattr(model, "resode_spec", {}).get("name", type(model).__name__)),
            checkpoint=checkpoints[mi] if checkpoints else None,
            n=n,
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
            for c in config.corruptions:
                accs: dict[str, float] = {}
                n_correct = 0
                for s in config.severities:
                    key = (c, s)
                    if corruption_loader is not None:
                        if key not in corrupted_cache:
                            corrupted_cache[key] = corruption_loader(c, s)
                        xc = corrupted_cache[key]
                    else:  # same seed for every model: the same noisy images
                        g = torch.Generator(device=dev).manual_seed(derive_seed(config.seed, c, s))
                        xc = (
                            torch.cat(
                                [
                                    corrupt(
                                        images[i : i + config.batch_size].to(dev), c, s, g
                                    ).cpu()
                                    for i in range(0, n, config.batch_size)
                                ]
                            )
                            if n
                            else images
                        )
                    ok = predict_correct(model, xc, labels, config.batch_size, dev)
                    accs[str(s)] = _fraction(ok)
                    n_correct += int(ok.sum())
                    bar.update(1)
                    bar.set_postfix_str(f"{c} s{s}")
                accs["pooled"] = n_correct / (n * len(config.severities)) if n else math.nan
                res.corruptions[c] = accs
            res.seconds["corruptions"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            robust = {eps_label(e, config.norm): correct_clean.clone() for e in eps_list}
            specs: list[tuple[str, str, dict[str, Any]]] = []
            for a in config.attacks:
                kw: dict[str, Any] = {}
                if a in ("ifgsm", "pgd"):
                    kw = {"steps": config.steps, "alpha": config.alpha}
                if a == "pgd":
                    kw["restarts"] = config.restarts
                specs.append((a, a, kw))
            if config.autoattack:
                specs.append(("autoattack", "autoattack", {"batch_size": config.batch_size}))
            if surrogate is not None:
                kw = {"surrogate": surrogate, "attack": config.transfer_attack}
                if config.transfer_attack in ("ifgsm", "pgd"):
                    kw.update(steps=config.steps, alpha=config.alpha)
                specs.append((f"transfer-{config.transfer_attack}", "transfer", kw))
            for display, name, kw in specs:
                res.attacks[display] = {}
                for ei, eps in enumerate(eps_list):
                    lev = eps_label(eps, config.norm)
                    extra = {"early_stop": config.early_stop} if name != "autoattack" else {}
                    attack = make_attack(
                        name, model, eps=eps, norm=config.norm, device=dev, **extra, **kw
                    )
                    g = torch.Generator().manual_seed(derive_seed(config.seed, display, ei))
                    ok_parts = []
                    for i in range(0, n, config.batch_size):
                        xb = images[i : i + config.batch_size].to(dev)
                        yb = labels[i : i + config.batch_size].to(dev)
                        adv = attack(xb, yb, generator=g)
                        ok_parts.append(predict_correct(model, adv, yb, config.batch_size, dev))
                    ok = torch.cat(ok_parts) if ok_parts else torch.zeros(0, dtype=torch.bool)
                    res.attacks[display][lev] = _fraction(ok)
                    robust[lev] &= ok
                    bar.update(1)
                    bar.set_postfix_str(f"{display} ε={lev}")
            if specs:
                res.robust = {k: _fraction(v) for k, v in robust.items()}
            res.seconds["attacks"] = time.perf_counter() - t0
        finally:
            for m, mode in modes:
                m.training = mode
            bar.close()
        results.append(res)
    return results


# --------------------------------------------------------------------------------------------
# checkpoints → report


def _checkpoint_label(path: Path, used: set[str]) -> str:
    base = path.parent.name if path.stem in ("last", "best", "checkpoint") else path.stem
    base = base or path.stem
    label, k = base, 2
    while label in used:
        label, k = f"{base}-{k}", k + 1
    used.add(label)
    return label


def _data_settings(payloads: list[dict[str, Any]], config: RobustnessConfig) -> dict[str, Any]:
    """The data set, image size and root shared by every checkpoint (CLI options win)."""
    found: dict[str, set[Any]] = {"dataset": set(), "image_size": set(), "data_root": set()}
    for p in payloads:
        cfg = p.get("config") or {}
        for k in found:
            found[k].add(cfg.get(k))
    out: dict[str, Any] = {}
    for k, values in found.items():
        override = getattr(config, k)
        if override is not None:
            out[k] = override
            continue
        values.discard(None)
        if len(values) > 1:
            raise ConfigError(
                f"the checkpoints were trained with different {k} values {sorted(map(str, values))}"
                f"; evaluate them separately or pass --{k.replace('_', '-')}"
            )
        out[k] = next(iter(values)) if values else None
    if out["dataset"] is None:
        raise ConfigError(
            "the checkpoint does not record its data set (no config.dataset); pass --dataset"
        )
    return out


def run_robustness(
    checkpoints: list[str | Path],
    out_dir: str | Path | None,
    config: RobustnessConfig | None = None,
    *,
    progress: bool = True,
) -> RobustnessResult:
    """Load ``checkpoints``, evaluate them side by side, write the report into ``out_dir``."""
    from resode import data
    from resode.checkpoint import load_checkpoint
    from resode.training import select_device

    config = config or RobustnessConfig()
    if not checkpoints:
        raise ResodeError("give at least one checkpoint to evaluate")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = select_device(config.device)
    loaded = [load_checkpoint(p) for p in checkpoints]
    settings = _data_settings([c.payload for c in loaded], config)
    kw: dict[str, Any] = {"root": settings["data_root"]}
    if settings["image_size"] is not None:
        kw["image_size"] = int(settings["image_size"])
    ds = data.load(settings["dataset"], split="test", **kw)
    if not isinstance(ds, data.ImageDataset):
        raise ResodeError(f"data set {settings['dataset']!r} is not an image classification set")
    idx = subset_indices(len(ds), config.n_samples, config.seed)
    sub = ds.subset(idx)
    used: set[str] = set()
    models = []
    for ck in loaded:
        _check_fits(ck.model, sub, str(ck.path))
        models.append((_checkpoint_label(ck.path, used), ck.model))
    surrogate = None
    if config.surrogate is not None:
        sck = load_checkpoint(config.surrogate)
        _check_fits(sck.model, sub, config.surrogate)
        surrogate = sck.model
    loader = None
    if config.corruptions and config.corruption_source == "files":

        def loader(name: str, severity: int) -> torch.Tensor:
            return load_corruption_set(
                settings["dataset"],
                name,
                severity,
                root=settings["data_root"],
                image_size=settings["image_size"],
                indices=idx,
                labels=sub.labels,
                shape=tuple(sub.images.shape[1:]),
            )

    results = evaluate_models(
        models,
        sub.images,
        sub.labels,
        config,
        dataset=settings["dataset"],
        surrogate=surrogate,
        corruption_loader=loader,
        progress=progress,
        device=device,
        checkpoints=[str(c.path) for c in loaded],
    )
    from resode._version import __version__

    result = RobustnessResult(
        config=config.replace(
            dataset=settings["dataset"],
            image_size=settings["image_size"],
            data_root=settings["data_root"],
        ),
        dataset=settings["dataset"],
        eps=config.resolved_eps(settings["dataset"]),
        indices=[int(i) for i in idx],
        models=results,
        environment={
            "resode": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(device),
            "threads": torch.get_num_threads(),
        },
    )
    if out_dir is not None:
        result.write(out_dir)
    return result


def _check_fits(model: nn.Module, ds: Any, source: str) -> None:
    """The model takes the data set's images and has one logit per class."""
    x = ds.images[:1]
    try:
        with torch.inference_mode():
            out = model.eval()(x.to(next(iter(model.parameters()), x).device))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResodeError(
            f"the model of {source!r} does not accept {ds.name} images of shape "
            f"{tuple(x.shape[1:])} ({first}); pass the --dataset/--image-size it was trained on"
        ) from exc
    if out.ndim != 2 or out.shape[1] != ds.num_classes:
        raise ResodeError(
            f"the model of {source!r} has {out.shape[-1]} outputs but {ds.name} has "
            f"{ds.num_classes} classes; pass the --dataset it was trained on"
        )


__all__ = [
    "DEFAULT_EPS_L2",
    "DEFAULT_EPS_LINF",
    "ModelResult",
    "RobustnessConfig",
    "RobustnessResult",
    "derive_seed",
    "eps_label",
    "evaluate_models",
    "load_corruption_set",
    "predict_correct",
    "run_robustness",
    "subset_indices",
]
