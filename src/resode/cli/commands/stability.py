"""``resode stability``: per-block Lyapunov stability of one or more checkpoints, one figure.

    resode stability runs/r20/last.pt runs/in20/last.pt --out results/stability
    resode stability runs/in20/last.pt --out results/s --n-samples 256 --attack pgd

Per block n: amplification ‖g_n(h+δ) − g_n(h)‖/‖δ‖ on real hidden states for a random δ and
for δ along the loss gradient ∇_{h_n}L; the top singular value of the block Jacobian (power
iteration with jvp/vjp); their cumulative products over depth; and the feature drift
‖h_n(x+η) − h_n(x)‖/‖h_n(x)‖ for Gaussian and adversarial η. Writes stability.png,
stability.json, stability.csv and stability.md into --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.analysis.report import add_common_arguments
    from resode.analysis.stability import StabilityConfig
    from resode.config import add_config_arguments

    parser = subparsers.add_parser(
        "stability",
        help="per-block amplification, Jacobian σ_max, cumulative products and feature drift",
        description=__doc__.split("\n\n")[0],
    )
    add_common_arguments(parser)
    add_config_arguments(parser, StabilityConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.plots import plot_stability
    from resode.analysis.report import load_inputs, md_table
    from resode.analysis.stability import StabilityConfig, analyze_stability
    from resode.config import config_from_args
    from resode.report import write_csv, write_json

    cfg = config_from_args(StabilityConfig, args)
    inputs = load_inputs(args, n_samples=cfg.n_samples, seed=cfg.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for item in inputs:
        assert item.images is not None and item.labels is not None
        res = analyze_stability(
            item.model, item.images, item.labels, cfg, name=item.label, progress=args.progress
        )
        res.extra = {"checkpoint": str(item.path), "dataset": item.dataset}
        results.append(res)
    plot_stability(results, out / "stability.png")
    write_json(
        out / "stability.json",
        {"config": cfg.to_dict(), "seed": cfg.seed, "models": [r.to_dict() for r in results]},
    )
    write_csv(out / "stability.csv", [row for r in results for row in r.rows()])
    (out / "stability.md").write_text(summary_markdown(results, md_table))
    for r in results:
        print(
            f"{r.model}: mean amplification {_mean(r.amp_random_mean):.4g} (random δ), "
            f"{_mean(r.amp_attack_mean):.4g} (attack δ); ∏σ_max {r.cum_sigma_max[-1]:.4g}; "
            f"final drift {r.drift_noise_mean[-1]:.4g} (noise), {r.drift_adv_mean[-1]:.4g} (adv)"
        )
    print(f"wrote stability.png, stability.json, stability.csv, stability.md to {out}")
    return 0


def _mean(v: list[float]) -> float:
    return sum(v) / len(v) if v else float("nan")


def summary_markdown(results: list, md_table) -> str:  # type: ignore[no-untyped-def]
    """Markdown report: per-model summary table and a comparison stated from the numbers."""
    cfg = results[0].config if results else {}
    lines = [
        "# Lyapunov stability per block",
        "",
        f"{results[0].n_samples if results else 0} test images per model, eval mode; probe "
        f"‖δ‖ = {cfg.get('delta_scale')}·‖h_n‖; noise σ = {cfg.get('noise_std')}; "
        f"{cfg.get('attack')} ε = {cfg.get('eps', 0) * 255:.3g}/255; seed {cfg.get('seed')}.",
        "Means over blocks of the per-block means; ∏ = cumulative product of the per-block "
        "geometric means over all blocks.",
        "",
    ]
    rows = []
    for r in results:
        lams = [v for v in r.lambdas if v is not None]
        rows.append(
            [
                r.model,
                _mean(lams) if lams else None,
                _mean(r.amp_random_mean),
                _mean(r.amp_attack_mean),
                _mean(r.sigma_max_mean),
                r.cum_amp_random[-1],
                r.cum_amp_attack[-1],
                r.cum_sigma_max[-1],
                r.drift_noise_mean[-1],
                r.drift_adv_mean[-1],
            ]
        )
    lines.append(
        md_table(
            [
                "model",
                "mean λ",
                "amp (random δ)",
                "amp (attack δ)",
                "σ_max",
                "∏ amp random",
                "∏ amp attack",
                "∏ σ_max",
                "drift h_B noise",
                "drift h_B adv",
            ],
            rows,
        )
    )
    if len(results) >= 2:
        lines += ["", "## Comparison", ""]
        for key, text in (
            (lambda r: _mean(r.amp_random_mean), "mean per-block amplification (random δ)"),
            (lambda r: _mean(r.amp_attack_mean), "mean per-block amplification (attack δ)"),
            (lambda r: r.cum_sigma_max[-1], "cumulative ∏ σ_max"),
            (lambda r: r.drift_adv_mean[-1], "adversarial drift of the last hidden state"),
        ):
            ranked = sorted(results, key=key)
            lines.append(
                f"- lowest {text}: **{ranked[0].model}** ({key(ranked[0]):.4g}); highest: "
                f"{ranked[-1].model} ({key(ranked[-1]):.4g})."
            )
    return "\n".join(lines) + "\n"
