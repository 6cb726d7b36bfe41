"""RobustBench interoperability: ``resode.benchmark(model, ...) -> (clean_acc, robust_acc)`` and a
RobustBench-schema ``model_info`` JSON entry per evaluated model (Croce et al. 2021).

Protocol (RobustBench's ``benchmark``): the first ``n_examples`` test images in their order,
model in eval mode, inputs in [0, 1] (normalisation inside the model);

* ``Linf`` / ``L2`` — standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square) at ``eps`` through the
  optional ``pyautoattack``; the robust accuracy is the accuracy on its adversarial examples.
  Without ``pyautoattack`` a **declared fallback set** runs instead (the attacks registered
  with ``fallback=True``, :func:`resode.attacks.fallback_attacks`: FGSM, PGD with restarts, and
  Square for L∞), the robust accuracy being the per-point worst case
  over the set; the result says which attack ran, and its JSON entry never claims to be an
  AutoAttack number (``autoattack_acc`` is null, the number is in ``external``).
* ``corruptions`` — the released CIFAR-10-C/100-C files (:mod:`resode.data.cifar_c_files`,
  checksum-verified): the mean accuracy over corruption × severity,
  ``(1/(C·5)) Σ_c Σ_s acc(c, s)``, by default over RobustBench's 15 benchmark corruptions
  (``corruptions="all"``: the 19 files).

What AutoAttack's authors ask of any number: every adversarial example is checked to lie in the
ε-ball and in [0, 1] (the largest perturbation norm is returned), AutoAttack's flags (zero
gradients, randomness, softmax outputs) are checked, and a transfer attack from ``transfer_from``
(e.g. the λ = 0 twin) is run when given; the per-point worst case of the white-box attack and the
transfer is RobustBench's ``external`` number, and a model on which it is lower than the
white-box number, or whose flags fail, is marked ``unreliable`` (as RobustBench marks
``Kang2021Stable``: AutoAttack 71.28 %, AutoAttack + transfer 64.20 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from resode.attacks.registry import attack_entry, fallback_attacks
from resode.config import Config, option
from resode.errors import ResodeError

ThreatModel = Literal["Linf", "L2", "corruptions"]
THREAT_MODELS = ("Linf", "L2", "corruptions")
#: the fields of RobustBench's ``model_info`` JSON (``robustbench.utils.ModelInfo``), in order,
#: plus the optional ``external`` and ``unreliable`` of its hand-edited entries
MODEL_INFO_FIELDS = (
    "link", "name", "authors", "additional_data", "number_forward_passes", "dataset", "venue",
    "architecture", "eps", "clean_acc", "reported", "corruptions_acc", "autoattack_acc",
    "external", "footnote", "unreliable",
)  # fmt: skip
#: the accuracy field of each threat model (RobustBench's ACC_FIELDS)
ACC_FIELD = {"Linf": "autoattack_acc", "L2": "autoattack_acc", "corruptions": "corruptions_acc"}


@dataclass
class BenchmarkResult:
    """What one :func:`evaluate_benchmark` measured (accuracies as fractions)."""

    dataset: str
    threat_model: str
    eps: float | None
    n_examples: int
    clean_acc: float
    robust_acc: float
    attack: str  # what produced robust_acc, in words
    autoattack: bool  # robust_acc is standard AutoAttack's
    attacks_run: list[str] = field(default_factory=list)
    max_perturbation: float | None = None  # largest ‖x_adv − x‖_p over the images
    external_acc: float | None = None  # per-point worst case with the transfer attack
    transfer_acc: dict[str, float] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    unreliable: bool = False
    unreliable_reasons: list[str] = field(default_factory=list)
    corruptions: dict[str, dict[str, float]] = field(default_factory=dict)
    architecture: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_threat(threat_model: str, eps: float | None) -> None:
    if threat_model not in THREAT_MODELS:
        raise ResodeError(
            f"threat_model must be one of {', '.join(THREAT_MODELS)}, got {threat_model!r}"
        )
    if threat_model != "corruptions" and eps is None:
        raise ResodeError(
            f"threat_model {threat_model} needs eps (e.g. 8/255 for Linf, 0.5 for L2)"
        )
    if threat_model == "corruptions" and eps is not None:
        raise ResodeError("the corruptions threat model takes no eps; drop it")
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise ResodeError(f"eps must be a positive number, got {eps!r}")


def _first(n_examples: int | None, images: torch.Tensor, labels: torch.Tensor) -> tuple:
    n = images.shape[0] if n_examples is None else min(int(n_examples), images.shape[0])
    return images[:n], labels[:n]


def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bs: int, dev: Any) -> torch.Tensor:
    from resode.robustness.evaluate import predict_correct

    return predict_correct(model, x, y, bs, dev)


def _perturbation(adv: torch.Tensor, x: torch.Tensor, threat_model: str) -> float:
    d = (adv - x).reshape(x.shape[0], -1)
    if not d.numel():
        return 0.0
    return float(d.abs().amax() if threat_model == "Linf" else d.norm(dim=1).max())


def _check_ball(adv: torch.Tensor, x: torch.Tensor, threat_model: str, eps: float) -> float:
    """The largest perturbation norm; an example outside the ε-ball or [0, 1] is a bug."""
    top = _perturbation(adv, x, threat_model)
    tol = 1e-5 * max(eps, 1.0)
    if top > eps + tol or float(adv.min()) < -tol or float(adv.max()) > 1 + tol:
        raise RuntimeError(
            f"an adversarial example leaves the {threat_model} ball of radius {eps} or [0, 1] "
            f"(largest norm {top}); the attack is broken"
        )
    return top


def _attack_all(
    name: str,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    bs: int,
    dev: Any,
    seed: int,
    **kw: Any,
) -> torch.Tensor:
    from resode.attacks import make_attack

    attack = make_attack(name, model, device=dev, **kw)
    g = torch.Generator().manual_seed(seed)
    parts = [
        attack(x[i : i + bs].to(dev), y[i : i + bs].to(dev), generator=g).cpu()
        for i in range(0, x.shape[0], bs)
    ]
    return torch.cat(parts) if parts else x.clone()


def evaluate_benchmark(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    dataset: str,
    threat_model: ThreatModel = "Linf",
    eps: float | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 32,
    attack: Literal["auto", "autoattack", "fallback"] = "auto",
    seed: int = 0,
    fallback_steps: int = 100,
    fallback_restarts: int = 5,
    square_queries: int = 1000,
    transfer_from: Sequence[tuple[str, nn.Module]] = (),
    corruption_images: Mapping[tuple[str, int], torch.Tensor] | None = None,
) -> BenchmarkResult:
    """Clean and robust accuracy of ``model`` on ``images``/``labels`` (float [0, 1] NCHW) under
    ``threat_model`` (see the module doc); ``corruption_images[(c, s)]`` are the corrupted copies
    of ``images`` for ``corruptions``."""
    from resode.attacks import autoattack_available
    from resode.evalset import derive_seed
    from resode.robustness.checks import flag_checks
    from resode.runtime import select_device

    _check_threat(threat_model, eps)
    dev = select_device(str(device) if device is not None else "auto")
    modes = [(m, m.training) for m in model.modules()]
    model = model.to(dev).eval()
    spec = getattr(model, "resode_spec", {}) or {}
    from resode.registry import display_name

    arch = display_name(str(spec.get("name", type(model).__name__)))
    try:
        clean_ok = _correct(model, images, labels, batch_size, dev)
        n = int(clean_ok.numel())
        clean = int(clean_ok.sum()) / n if n else math.nan
        res = BenchmarkResult(dataset, threat_model, eps, n, clean, math.nan, "", False)
        res.architecture = arch
        if threat_model == "corruptions":
            cells: list[float] = []
            for (c, s), xc in (corruption_images or {}).items():
                acc_cs = int(_correct(model, xc, labels, batch_size, dev).sum()) / n
                res.corruptions.setdefault(c, {})[str(s)] = acc_cs
                cells.append(acc_cs)
            if not cells:
                raise ResodeError("the corruptions threat model needs corrupted images")
            for accs in res.corruptions.values():
                accs["pooled"] = sum(accs.values()) / len(accs)
            res.robust_acc = sum(cells) / len(cells)
            per = len(cells) // len(res.corruptions)
            res.attack = (
                f"mean over {len(res.corruptions)} corruptions × {per} severities (released files)"
            )
            return res
        assert eps is not None
        use_aa = attack == "autoattack" or (attack == "auto" and autoattack_available())
        if use_aa:
            adv = _attack_all(
                "autoattack",
                model,
                images,
                labels,
                bs=batch_size,
                dev=dev,
                seed=seed,
                eps=eps,
                norm=threat_model,
                batch_size=batch_size,
            )
            robust_ok = _correct(model, adv, labels, batch_size, dev)
            res.max_perturbation = _check_ball(adv, images, threat_model, eps)
            res.attack, res.autoattack = "AutoAttack standard (pyautoattack)", True
            res.attacks_run = ["autoattack"]
        else:
            robust_ok = clean_ok.clone()
            top = 0.0
            names = [
                a
                for a in fallback_attacks()
                if threat_model == "Linf" or not attack_entry(a).gradient_free
            ]
            for i, a in enumerate(names):
                kw: dict[str, Any] = {"eps": eps, "norm": threat_model}
                if a == "pgd":
                    kw.update(steps=fallback_steps, restarts=fallback_restarts)
                    kw["alpha"] = 2.5 * eps / fallback_steps
                if a == "square":
                    kw = {"eps": eps, "queries": square_queries}
                adv = _attack_all(
                    a,
                    model,
                    images,
                    labels,
                    bs=batch_size,
                    dev=dev,
                    seed=derive_seed(seed, "benchmark", a, i),
                    **kw,
                )
                top = max(top, _check_ball(adv, images, threat_model, eps))
                robust_ok &= _correct(model, adv, labels, batch_size, dev)
            res.max_perturbation = top
            res.attacks_run = names
            why = "AutoAttack not installed" if attack == "auto" else "attack = fallback"
            desc = f"PGD-{fallback_steps} ×{fallback_restarts} restarts"
            desc = ", ".join(["FGSM", desc, *(["Square"] if "square" in names else [])])
            res.attack = f"fallback set ({why}): per-point worst case over {desc}; not AutoAttack"
        res.robust_acc = int(robust_ok.sum()) / n if n else math.nan
        flags = flag_checks(model, images.to(dev), labels.to(dev)) if n else None
        if flags is not None:
            res.flags = flags.to_dict()
            if not flags.passed:
                res.unreliable_reasons.append(f"AutoAttack flags: {flags.reason}")
        external_ok = robust_ok.clone()
        for name, sur in transfer_from:
            adv = _attack_all(
                "transfer",
                model,
                images,
                labels,
                bs=batch_size,
                dev=dev,
                seed=derive_seed(seed, "benchmark-transfer", name),
                surrogate=sur.to(dev).eval(),
                eps=eps,
                norm=threat_model,
                steps=fallback_steps,
                alpha=2.5 * eps / fallback_steps,
            )
            _check_ball(adv, images, threat_model, eps)
            ok = _correct(model, adv, labels, batch_size, dev)
            res.transfer_acc[name] = int(ok.sum()) / n
            external_ok &= ok
        if transfer_from:
            res.external_acc = int(external_ok.sum()) / n
            if res.external_acc < res.robust_acc:
                res.unreliable_reasons.append(
                    f"white-box + transfer {100 * res.external_acc:.2f} % < white-box "
                    f"{100 * res.robust_acc:.2f} %"
                )
        res.unreliable = bool(res.unreliable_reasons)
        return res
    finally:
        for m, mode in modes:
            m.training = mode


def _load_test(
    dataset: str, n_examples: int | None, data_dir: str | None, image_size: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    from resode import data

    ds = data.load(dataset, split="test", root=data_dir, image_size=image_size)
    return _first(n_examples, ds.images, ds.labels)


class CorruptedImages(Mapping[tuple[str, int], torch.Tensor]):
    """``{(corruption, severity): images}`` read from the released files when asked for, one
    cell at a time (all 15 × 5 cells at once would be ~9 GB of float32 for CIFAR-10-C)."""

    def __init__(
        self, dataset: str, labels: torch.Tensor, root: str | None, image_size: int | None,
        names: list[str],
    ) -> None:  # fmt: skip
        self.dataset, self.labels, self.root, self.image_size = dataset, labels, root, image_size
        self.cells = [(c, s) for c in names for s in range(1, 6)]

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self.cells)

    def __getitem__(self, key: tuple[str, int]) -> torch.Tensor:
        from resode import data

        if key not in self.cells:
            raise KeyError(key)
        c, s = key
        n = self.labels.shape[0]
        ds = data.load(
            f"{self.dataset}-c", split="test", root=self.root, image_size=self.image_size,
            corruption=c, severity=s,
        )  # fmt: skip
        if len(ds) < n or not torch.equal(ds.labels[:n], self.labels):
            raise ResodeError(
                f"{self.dataset}-c {c} severity {s}: its labels are not the first {n} test "
                "labels in order; the files must hold the test set in its original order"
            )
        return ds.images[:n].clone()  # not a view: the severity's other images are freed


def _load_corruptions(
    dataset: str,
    labels: torch.Tensor,
    root: str | None,
    image_size: int | None,
    corruptions: Sequence[str] | str | None,
) -> CorruptedImages:
    from resode.data.cifar_c import cifar_c_folder, corruption_file_name
    from resode.data.cifar_c_files import BENCHMARK_CORRUPTIONS, RELEASED_CORRUPTIONS, verify_folder

    if dataset not in ("cifar10", "cifar100"):
        raise ResodeError(
            f"the corruptions threat model needs cifar10 or cifar100 (the released CIFAR-C "
            f"files), not {dataset!r}"
        )
    names = (
        list(RELEASED_CORRUPTIONS)
        if corruptions == "all"
        else [corruption_file_name(c) for c in (corruptions or BENCHMARK_CORRUPTIONS)]
    )
    from resode import data

    base = Path(root).expanduser() if root is not None else data.default_root()
    verify_folder(f"{dataset}-c", cifar_c_folder(f"{dataset}-c", base), names)  # fail early
    return CorruptedImages(dataset, labels, root, image_size, names)


def benchmark(
    model: nn.Module,
    n_examples: int = 10000,
    dataset: str = "cifar10",
    threat_model: ThreatModel = "Linf",
    to_disk: bool = False,
    model_name: str | None = None,
    data_dir: str | None = "./data",
    corruptions_data_dir: str | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 32,
    eps: float | None = None,
    *,
    image_size: int | None = None,
    corruptions: Sequence[str] | str | None = None,
    attack: Literal["auto", "autoattack", "fallback"] = "auto",
    seed: int = 0,
    fallback_steps: int = 100,
    fallback_restarts: int = 5,
    square_queries: int = 1000,
    transfer_from: Sequence[tuple[str, nn.Module]] = (),
    out_dir: str | Path = ".",
    reported: float | None = None,
    verbose: bool = True,
) -> tuple[float, float]:
    """RobustBench's ``benchmark`` for a resode (or any [0, 1]-input) model: returns
    ``(clean_accuracy, robust_accuracy)`` as fractions, printing both and the attack used.

    The positional parameters are RobustBench's. ``to_disk`` writes the model's ``model_info``
    entry to ``out_dir/model_info/<dataset>/<threat_model>/<model_name>.json`` (RobustBench's
    layout; ``model_name`` required). Extra keywords: ``image_size``, ``corruptions``
    (default the 15 benchmark ones, ``"all"`` the 19 files), ``attack`` (``auto``: AutoAttack if
    installed, else the declared fallback), the fallback's strength, ``transfer_from`` and
    ``reported`` (the paper's number, for the entry)."""
    if to_disk and model_name is None:
        raise ResodeError("to_disk=True needs model_name (the JSON file's name)")
    _check_threat(threat_model, eps)
    if model.training and verbose:
        print("warning: the given model is not in eval mode; it is evaluated in eval mode")
    x, y = _load_test(dataset, n_examples, data_dir, image_size)
    corr = None
    if threat_model == "corruptions":
        corr = _load_corruptions(
            dataset, y, corruptions_data_dir or data_dir, image_size, corruptions
        )
    res = evaluate_benchmark(
        model,
        x,
        y,
        dataset=dataset,
        threat_model=threat_model,
        eps=eps,
        device=device,
        batch_size=batch_size,
        attack=attack,
        seed=seed,
        fallback_steps=fallback_steps,
        fallback_restarts=fallback_restarts,
        square_queries=square_queries,
        transfer_from=transfer_from,
        corruption_images=corr,
    )
    if verbose:
        print(f"Clean accuracy: {res.clean_acc:.2%}")
        print(f"Attack: {res.attack}")
        print(f"Adversarial accuracy: {res.robust_acc:.2%}")
        for why in res.unreliable_reasons:
            print(f"unreliable: {why}")
    if to_disk:
        assert model_name is not None
        write_model_info(res, Path(out_dir), model_name, reported=reported)
    return res.clean_acc, res.robust_acc


def eps_text(eps: float | None, threat_model: str) -> str | None:
    """RobustBench writes ε as ``"8/255"`` (L∞) or ``"0.5"`` (L2), null for corruptions."""
    if eps is None:
        return None
    k = eps * 255
    if threat_model == "Linf" and abs(k - round(k)) < 1e-6:
        return f"{round(k)}/255"
    return f"{eps:g}"


def _pct(v: float | None) -> str | None:
    return None if v is None or not math.isfinite(v) else str(round(100 * v, 2))


def model_info_entry(
    res: BenchmarkResult,
    name: str,
    *,
    reported: float | None = None,
    link: str = "",
    authors: str = "",
    venue: str = "",
    additional_data: bool = False,
    footnote: str | None = None,
) -> dict[str, Any]:
    """The RobustBench ``model_info`` JSON entry of ``res`` (accuracies as percent strings with
    two decimals, as RobustBench writes them). A fallback number goes to ``external`` with
    ``autoattack_acc`` null and says so in the footnote; a transfer or flag problem sets
    ``unreliable`` (present only then, as in RobustBench's files)."""
    acc_field = ACC_FIELD[res.threat_model]
    notes = [footnote] if footnote else []
    entry: dict[str, Any] = {
        "link": link,
        "name": name,
        "authors": authors,
        "additional_data": additional_data,
        "number_forward_passes": 1,
        "dataset": res.dataset,
        "venue": venue,
        "architecture": res.architecture,
        "eps": eps_text(res.eps, res.threat_model),
        "clean_acc": _pct(res.clean_acc),
        "reported": _pct(reported),
    }
    if acc_field == "corruptions_acc":
        entry["corruptions_acc"] = _pct(res.robust_acc)
        names = len(res.corruptions)
        notes.append(f"mean over {names} corruptions × 5 severities of the released files")
    elif res.autoattack:
        entry["autoattack_acc"] = _pct(res.robust_acc)
        if res.external_acc is not None:
            entry["external"] = _pct(res.external_acc)
            notes.append("external: AutoAttack + transfer from " + ", ".join(res.transfer_acc))
    else:
        entry["autoattack_acc"] = None
        ext = res.robust_acc if res.external_acc is None else min(res.robust_acc, res.external_acc)
        entry["external"] = _pct(ext)
        notes.append(f"not AutoAttack: {res.attack}")
    if res.max_perturbation is not None:
        notes.append(f"n = {res.n_examples}; largest perturbation {res.max_perturbation:.4g}")
    entry["footnote"] = "; ".join(notes) or None
    if res.unreliable:
        entry["unreliable"] = True
    return entry


def validate_model_info(entry: dict[str, Any], threat_model: str) -> list[str]:
    """Problems of ``entry`` against RobustBench's schema (empty: valid): only its fields; the
    identity fields are strings, the flags booleans; every accuracy is null or a percent string
    in [0, 100]; ``eps`` as RobustBench writes it; the threat model's accuracy field (or
    ``external``) present; robust ≤ clean."""
    problems = [f"unknown field {k!r}" for k in entry if k not in MODEL_INFO_FIELDS]
    for k in ("link", "name", "authors", "venue", "architecture", "dataset"):
        if not isinstance(entry.get(k), str):
            problems.append(f"{k} must be a string")
    if not isinstance(entry.get("additional_data"), bool):
        problems.append("additional_data must be true or false")
    if "unreliable" in entry and entry["unreliable"] is not True:
        problems.append("unreliable is written only as true")
    if not isinstance(entry.get("number_forward_passes"), int):
        problems.append("number_forward_passes must be an integer")
    values = {}
    for k in ("clean_acc", "reported", "corruptions_acc", "autoattack_acc", "external"):
        v = entry.get(k)
        if v is None:
            continue
        try:
            values[k] = float(v)
        except (TypeError, ValueError):
            problems.append(f"{k} must be a percent string, got {v!r}")
            continue
        if not isinstance(v, str) or not 0 <= values[k] <= 100:
            problems.append(f"{k} must be a percent string in [0, 100], got {v!r}")
    if "clean_acc" not in values:
        problems.append("clean_acc is missing")
    acc = ACC_FIELD.get(threat_model)
    if acc is None:
        problems.append(f"unknown threat model {threat_model!r}")
    elif acc not in values and "external" not in values:
        problems.append(f"{acc} (or external) is missing")
    eps = entry.get("eps")
    if threat_model == "corruptions":
        if eps is not None:
            problems.append("eps must be null for corruptions")
    elif not isinstance(eps, str):
        problems.append("eps must be a string such as '8/255' or '0.5'")
    for k in ("corruptions_acc", "autoattack_acc", "external"):
        if k in values and "clean_acc" in values and values[k] > values["clean_acc"]:
            problems.append(f"{k} {values[k]} exceeds clean_acc {values['clean_acc']}")
    return problems


def write_model_info(res: BenchmarkResult, out: Path, name: str, **entry_kw: Any) -> Path:
    """``out/model_info/<dataset>/<threat_model>/<name>.json`` (RobustBench's layout)."""
    from resode.report import write_json

    entry = model_info_entry(res, name, **entry_kw)
    problems = validate_model_info(entry, res.threat_model)
    if problems:  # pragma: no cover - the writer and the validator disagree: a bug
        raise RuntimeError(f"model_info entry fails the schema: {'; '.join(problems)}")
    return write_json(out / "model_info" / res.dataset / res.threat_model / f"{name}.json", entry)


__all__ = [
    "ACC_FIELD",
    "MODEL_INFO_FIELDS",
    "THREAT_MODELS",
    "BenchmarkConfig",
    "BenchmarkResult",
    "benchmark",
    "eps_text",
    "evaluate_benchmark",
    "model_info_entry",
    "run_benchmark",
    "validate_model_info",
    "write_model_info",
]


# ---- `resode benchmark`: checkpoints → one model_info entry each ---------------------------


@dataclass
class BenchmarkConfig(Config):
    """Options of ``resode benchmark`` (RobustBench's protocol on resode checkpoints)."""

    threat_model: Literal["Linf", "L2", "corruptions"] = option(
        "Linf", "RobustBench threat model: Linf, L2 or corruptions"
    )
    eps: float | None = option(
        None, "attack radius, e.g. 8/255 (Linf) or 0.5 (L2); none for corruptions", pixels=True
    )
    n_examples: int | None = option(10000, "the first N test images, in order (None: all)", min=1)
    dataset: str | None = option(None, "test data set (default: the checkpoint's)")
    data_root: str | None = option(None, "data folder (default: the checkpoint's)")
    image_size: int | None = option(None, "resize images (default: the checkpoint's)", min=4)
    corruptions_data_dir: str | None = option(
        None, "folder holding CIFAR-10-C/ or CIFAR-100-C/ (default: data_root)"
    )
    corruptions: list[str] | None = option(
        None, "corruption files (default: RobustBench's 15; all: the 19 released)"
    )
    attack: Literal["auto", "autoattack", "fallback"] = option(
        "auto", "auto: AutoAttack standard if pyautoattack is installed, else the fallback set"
    )
    fallback_steps: int = option(100, "fallback PGD steps (also the transfer's)", min=1)
    fallback_restarts: int = option(5, "fallback PGD restarts", min=1)
    square_queries: int = option(1000, "fallback Square queries (Linf)", min=0)
    transfer: bool = option(
        True, "also attack each model by transfer from every other checkpoint given"
    )
    reported: list[float] | None = option(
        None, "the papers' robust accuracies in percent (one per checkpoint) for the entries"
    )
    batch_size: int = option(256, "batch size", min=1)
    seed: int = option(0, "seed of the attacks", min=0)
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")

    def check(self) -> None:
        _check_threat(self.threat_model, self.eps)


def run_benchmark(
    checkpoints: Sequence[str | Path],
    out_dir: str | Path,
    config: BenchmarkConfig | None = None,
    *,
    labels: Sequence[str] | None = None,
) -> list[tuple[str, BenchmarkResult, Path]]:
    """Evaluate every checkpoint under ``config`` and write its RobustBench entry to
    ``out/model_info/<dataset>/<threat_model>/<label>.json``, and ``benchmark.json`` (every
    result); returns (label, result, entry path) per checkpoint."""
    from resode.evalset import check_fits, data_settings, load_models, trained_image_size
    from resode.report import prepare_out_dir, write_json
    from resode.runtime import select_device

    cfg = config or BenchmarkConfig()
    if cfg.reported is not None and len(cfg.reported) != len(checkpoints):
        raise ResodeError(f"--reported has {len(cfg.reported)} values for {len(checkpoints)} CKPTs")
    out = prepare_out_dir(out_dir, ("benchmark.json",), what="benchmark")
    dev = select_device(cfg.device)
    models = load_models(checkpoints, labels=labels, device=dev)
    s = data_settings(
        [m.payload for m in models],
        dataset=cfg.dataset,
        data_root=cfg.data_root,
        image_size=cfg.image_size,
    )
    x, y = _load_test(s["dataset"], cfg.n_examples, s["data_root"], s["image_size"])
    from resode.evalset import EvalSet

    ev = EvalSet(
        s["dataset"],
        x,
        y,
        list(range(len(y))),
        int(y.max()) + 1 if len(y) else 0,
        s["image_size"],
        s["data_root"],
    )
    for m in models:
        check_fits(m.model, ev, str(m.path), trained_image_size(m.payload))
    corr = None
    if cfg.threat_model == "corruptions":
        names = cfg.corruptions
        sel: Sequence[str] | str | None = "all" if names == ["all"] else names
        root = cfg.corruptions_data_dir or s["data_root"]
        corr = _load_corruptions(s["dataset"], y, root, s["image_size"], sel)
    done = []
    for i, m in enumerate(models):
        others = [(o.label, o.model) for o in models if o is not m] if cfg.transfer else []
        res = evaluate_benchmark(
            m.model,
            x,
            y,
            dataset=s["dataset"],
            threat_model=cfg.threat_model,
            eps=cfg.eps,
            device=dev,
            batch_size=cfg.batch_size,
            attack=cfg.attack,
            seed=cfg.seed,
            fallback_steps=cfg.fallback_steps,
            fallback_restarts=cfg.fallback_restarts,
            square_queries=cfg.square_queries,
            corruption_images=corr,
            transfer_from=others if cfg.threat_model != "corruptions" else (),
        )
        rep = cfg.reported[i] / 100 if cfg.reported is not None else None
        path = write_model_info(res, out, m.label, reported=rep)
        done.append((m.label, res, path))
    write_json(
        out / "benchmark.json",
        {
            "config": cfg.to_dict(),
            "results": [
                {"label": lb, "entry": str(p.relative_to(out)), **r.to_dict()} for lb, r, p in done
            ],
        },
    )
    if cfg.threat_model == "corruptions":
        from resode.robustness.corruption_table import corruption_rows, write_corruption_table

        rows = [
            row for lb, r, _ in done for row in corruption_rows(lb, r.corruptions, r.n_examples)
        ]
        write_corruption_table(out, rows)
    return done
