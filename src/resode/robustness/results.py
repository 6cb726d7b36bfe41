"""Results of a robustness evaluation: per-model accuracies, and the report of ``resode robustness``
(``results.json``, ``results.csv``, ``report.md``)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.robustness.config import RobustnessConfig


def eps_label(eps: float, norm: str = "Linf") -> str:
    """``8/255`` when ε·255 is an integer (L∞), else a short decimal."""
    k = eps * 255
    if norm == "Linf" and abs(k - round(k)) < 1e-6:
        return f"{round(k)}/255"
    return f"{eps:.4g}"


@dataclass
class ModelResult:
    """All accuracies of one model (``robust_points``: the per-point worst case)."""

    label: str
    model: str
    checkpoint: str | None
    n: int
    clean: float = math.nan
    corruptions: dict[str, dict[str, float]] = field(default_factory=dict)
    attacks: dict[str, dict[str, float]] = field(default_factory=dict)
    robust: dict[str, float] = field(default_factory=dict)
    #: per attack (declared order) and ε: the worst case over the attacks up to and including it
    #: (and every attack at a smaller ε); the last attack's row is ``robust``
    cumulative: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: per ε: the per-point worst case (bool tensor, robust points True); not written to JSON
    robust_points: dict[str, Any] = field(default_factory=dict, repr=False)
    #: gradient-masking checks (``--checks``; :class:`resode.robustness.checks.CheckResult`)
    checks: list[Any] = field(default_factory=list)

    @property
    def unreliable(self) -> bool:
        """RobustBench's flag: a gradient-masking check raised a red flag, so the robust
        accuracy is not a trustworthy measure of robustness (an upper bound at best)."""
        return any(not c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": [c.to_dict() for c in self.checks],
            "unreliable": self.unreliable,
            "label": self.label,
            "model": self.model,
            "checkpoint": self.checkpoint,
            "n": self.n,
            "clean": self.clean,
            "corruptions": self.corruptions,
            "attacks": self.attacks,
            "robust": self.robust,
            "cumulative": self.cumulative,
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
            for a in _cascade_only(m):
                for lev, acc in m.cumulative[a].items():
                    out.append(
                        {**base, "kind": "cumulative", "name": a, "level": lev, "accuracy": acc}
                    )
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
            f"{cfg.steps} steps, APGD {cfg.apgd_steps}"
            + (f", {cfg.restarts} PGD restart(s)" if "pgd" in cfg.attacks else "")
            + ". Robust = per-point worst case over the clean image and every attack at that ε "
            "and at every smaller ε (nested balls)"
            + (
                "; computed as a cascade (each attack only on the points still robust; "
                "'≤ A (cascade)' = the worst case over the attacks up to A). "
                if cfg.cascade
                else ". "
            )
            + f"Standard error of an accuracy p: √(p(1−p)/{n}) (≤ {50 / math.sqrt(max(n, 1)):.1f} "
            "points).",
            "",
            "| metric | " + " | ".join(labels) + " |",
            "|---|" + "---:|" * len(labels),
            "| model | " + " | ".join(m.model for m in self.models) + " |",
        ]

        def row(name: str, values: list[float]) -> None:
            lines.append(f"| {name} | " + " | ".join(f"{100 * v:.2f}" for v in values) + " |")

        row("clean", [m.clean for m in self.models])
        for c in self.models[0].corruptions if self.models else []:
            levels = list(self.models[0].corruptions.get(c, {}))
            for lev in levels:
                name = f"{c} (pooled)" if lev == "pooled" else f"{c} s{lev}"
                row(name, [m.corruptions[c][lev] for m in self.models])
        attack_names = list(self.models[0].attacks) if self.models else []
        for a in attack_names:
            for lev in self.models[0].attacks[a]:
                row(f"{a} ε={lev}", [m.attacks[a][lev] for m in self.models])
        for a in _cascade_only(self.models[0]) if self.models else []:
            for lev in self.models[0].cumulative[a]:
                row(f"≤ {a} (cascade) ε={lev}", [m.cumulative[a][lev] for m in self.models])
        for lev in self.models[0].robust if self.models else []:
            row(f"**robust** ε={lev}", [m.robust[lev] for m in self.models])
        checked = [m for m in self.models if m.checks]
        if checked:
            lines += [
                "",
                "## Gradient-masking checks",
                "",
                "| model | check | result | numbers | reason |",
                "|---|---|---|---|---|",
            ]
            for m in checked:
                for c in m.checks:
                    nums = ", ".join(f"{k} = {v:.4g}" for k, v in c.numbers.items())
                    verdict = "pass" if c.passed else "RED FLAG"
                    lines.append(f"| {m.label} | {c.name} | {verdict} | {nums} | {c.reason} |")
            lines.append("")
            for m in checked:
                if m.unreliable:
                    names = ", ".join(c.name for c in m.checks if not c.passed)
                    lines.append(
                        f"**{m.label}: unreliable** (red flags: {names}): its robust accuracy is "
                        "an upper bound at best, not a measure of robustness."
                    )
                else:
                    lines.append(f"{m.label}: no red flag in {len(m.checks)} checks.")
        lines += [
            "",
            "Seconds per model: "
            + ", ".join(f"{m.label} {sum(m.seconds.values()):.1f}" for m in self.models),
            "",
        ]
        return "\n".join(lines)

    FILES = ("results.json", "results.csv", "report.md")

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": out / "results.json",
            "csv": out / "results.csv",
            "markdown": out / "report.md",
        }
        from resode.checkpoint import atomic_write_text

        atomic_write_text(paths["json"], json.dumps(self.to_dict(), indent=2) + "\n")
        atomic_write_text(paths["csv"], self.to_csv())
        atomic_write_text(paths["markdown"], self.to_markdown())
        return paths


def _cascade_only(m: ModelResult) -> list[str]:
    """Attacks the cascade ran only on the points still robust (no own accuracy), except the
    last (its cumulative row is the worst case itself)."""
    return [a for a in m.cumulative if a not in m.attacks][:-1] if m.cumulative else []


__all__ = ["ModelResult", "RobustnessResult", "eps_label"]
