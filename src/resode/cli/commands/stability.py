"""``resode stability``: per-block Lyapunov stability of one or more checkpoints, one figure.

    resode stability runs/r20/last.pt runs/in20/last.pt --out results/stability
    resode stability runs/in20/last.pt --out results/s --n-samples 256 --attack pgd --eps 8/255

Per block n: amplification ‖g_n(h+δ) − g_n(h)‖/‖δ‖ on real hidden states for a random δ and
for δ along the loss gradient ∇_{h_n}L, and the same divided by ‖h_{n+1}‖/‖h_n‖ (the
scale-normalised gain); the top singular value of the block Jacobian (power iteration with
jvp/vjp); their cumulative products over depth; and the feature drift
‖h_n(x+η) − h_n(x)‖/‖h_n(x)‖ for Gaussian and adversarial η. Writes stability.png,
stability.json, stability.csv and stability.md into --out.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from resode.analysis.stability import StabilityConfig
    from resode.cli.common import add_checkpoint_arguments
    from resode.config import add_config_arguments

    parser = subparsers.add_parser(
        "stability",
        help="per-block amplification, Jacobian σ_max, cumulative products and feature drift",
        description=__doc__.split("\n\n")[0],
    )
    add_checkpoint_arguments(parser)
    add_config_arguments(parser, StabilityConfig)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from resode.analysis.run import run_stability
    from resode.analysis.stability import StabilityConfig
    from resode.cli.common import data_options
    from resode.config import config_from_args

    cfg = config_from_args(StabilityConfig, args)
    results = run_stability(
        args.checkpoints, args.out, cfg, data_options(args), progress=args.progress
    )
    for r in results:
        print(
            f"{r.model}: ∏ G {r.cum_gain_random[-1]:.4g} (random δ); ∏ amp "
            f"{r.cum_amp_random[-1]:.4g}; ∏ σ_max {r.cum_sigma_max[-1]:.4g}; final drift "
            f"{r.drift_noise_mean[-1]:.4g} (noise), {r.drift_adv_mean[-1]:.4g} (adv)"
        )
    print(f"wrote stability.png, stability.json, stability.csv, stability.md to {args.out}")
    return 0
