"""The report of ``resode reproduce``: one small writer per section; :data:`SECTIONS` is the order.

Each writer takes the :class:`Report` and a :class:`ReportContext` (config, environment, typed
results, judged claims, figure paths) and adds paragraphs, tables and figures; the heading is
added from :data:`SECTIONS`, so it is typed once. Verdict words come from the judgements only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.ode.experiments.protocol import experiments
from resode.registry import display_name
from resode.report import Report, fmt_mean_std, fmt_num, fmt_pct, mean_std
from resode.reproduce.config import ReproduceConfig
from resode.robustness.config import RobustnessConfig

Writer = Callable[[Report, "ReportContext"], None]


@dataclass
class ReportContext:
    cfg: ReproduceConfig
    out: Path
    env: dict[str, Any]
    seconds: float
    a: Any = None
    b: Any = None
    claims: list[Any] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    preset_info: dict[str, str] = field(default_factory=dict)
    looks: Any = None  # resode.reproduce.looks.Looks: which look this judgement is


def kernels_sentence(env: dict[str, Any]) -> str:
    """The kernel policy and the machine's fingerprint of a run's environment record; a loud
    warning when the numbers are a property of this CPU (native kernels, pins that came too
    late, or a record made before the policy existed). The report and the README say this."""
    k = env.get("kernels")
    fp = env.get("fingerprint")
    tail = (
        f" Machine fingerprint **`{fp}`**: `resode fingerprint` prints the same digest on a "
        "machine that reproduces these numbers bit for bit."
        if fp
        else ""
    )
    if not k:
        return "Kernel policy: not recorded (made before resode pinned CPU kernels)." + tail
    if k.get("comparable"):
        return f"CPU kernels pinned (`{k['policy']}`, resode.kernels)." + tail
    why = k.get("reason") or "kernel policy unknown"
    return f"**Not comparable with another machine's numbers**: {why}." + tail


def _setup(rep: Report, ctx: ReportContext) -> None:
    env, cfg = ctx.env, ctx.cfg
    rep.paragraph(
        f"Run on {env['date']} on {env['cpu']} ({env['cpu_count']} logical CPUs"
        + (f", GPU {env['gpu']}" if env["gpu"] else "")
        + f"), Python {env['python']}, torch {env['torch']}, resode {env['resode']}"
        + (f", git commit `{env['git_commit']}`" if env["git_commit"] else "")
        + f". Executor `{cfg.executor}` with {ctx.env.get('workers', '?')} worker(s), "
        f"{cfg.threads} torch thread(s) per task (fixed: the numbers do not depend on the "
        f"machine's load). Total wall time **{ctx.seconds / 60:.1f} min** ({ctx.seconds:.0f} s); "
        f"the tasks used {ctx.env.get('task_cpu_seconds', 0.0) / 60:.1f} CPU-minutes."
    )
    rep.paragraph(kernels_sentence(env))
    info = ctx.preset_info
    if info:
        rep.paragraph(
            f"Preset `{cfg.preset}`: {info.get('what', '')}. Compare with: "
            f"{info.get('compare_with', '')}."
        )
    pa = cfg.paper_a
    rob = pa.robustness
    rep.paragraph(
        f"Seeds: training {pa.seeds} (λ-sweep {cfg.sweep.seeds}); evaluation subset, noise, "
        f"attack starts and analysis directions seed {cfg.seed}; paper B data seed {cfg.seed}, "
        f"network seeds {cfg.seed}..{cfg.seed + cfg.paper_b.depth_sweep.seeds - 1} (depth "
        "sweep). The full configuration "
        "is in `reproduce_config.yaml` and `results.json`; every task's inputs and result are in "
        "its folder (`paper_a/<model>-seed<s>/result.json`, next to the run's `config.yaml`)."
    )
    if ctx.a is not None and ctx.a.runs:
        train = ctx.a.runs[0]
        rep.table(
            [
                {
                    "setting": "data set",
                    "value": f"{pa.dataset} ({pa.image_size or 'native'} px), "
                    f"test images evaluated: {ctx.a.n_test}, attacked: {ctx.a.n_attack}",
                },
                {"setting": "training", "value": _training_text(cfg, train)},
                {"setting": "models", "value": ", ".join(display_name(m) for m in pa.models)},
                {
                    "setting": "attacks",
                    "value": f"{', '.join(x.upper() for x in rob.attacks)}"
                    + (", AUTOATTACK" if rob.autoattack else "")
                    + (", L∞, " if rob.norm == "Linf" else ", L2, ")
                    + f"ε ∈ {{{', '.join(ctx.a.eps_labels)}}}, {rob.steps} steps "
                    f"(APGD {rob.apgd_steps}), "
                    + _step_text(rob)
                    + (
                        "; early stopping on (stops on a sample once it is misclassified: never "
                        "weaker than the full run, unlike the paper's code, which runs every step)"
                        if rob.early_stop
                        else "; every step run (no early stopping, as the paper's code)"
                    ),
                },
                {
                    "setting": "noise",
                    "value": f"{', '.join(rob.corruptions)}; severities {rob.severities}; "
                    f"strengths {rob.noise_strengths} (1 = CIFAR-C)",
                },
                {"setting": "task seconds (sum over runs)", "value": _task_seconds(ctx.a)},
            ],
            columns=["setting", "value"],
        )


def _step_text(rob: Any) -> str:
    """The step size of the iterative attacks, as :meth:`RobustnessConfig.step_size` picks it."""
    if rob.alpha is not None:
        return f"α = {rob.alpha:.4g} (set)"
    if rob.step_rule == "reach":
        return "α = max(1/255, 2.5ε/steps) (reaches the ε-boundary)"
    return "α = 1/255 (the paper's protocol)"


def _task_seconds(a: Any) -> str:
    train = sum(r.result.train.seconds for r in a.runs)
    noise = sum(r.robustness.seconds.noise for r in a.runs)
    attacks = sum(r.robustness.seconds.attacks for r in a.runs)
    return f"training {train:.0f}, noise {noise:.0f}, attacks {attacks:.0f}"


def _training_text(cfg: ReproduceConfig, run: Any) -> str:
    from resode.training import TrainConfig

    tc = (
        TrainConfig.from_yaml(run.folder / "config.yaml")
        if (run.folder / "config.yaml").exists()
        else None
    )
    if tc is None:
        return f"preset {cfg.paper_a.training.preset}"
    return (
        f"preset {cfg.paper_a.training.preset}: {tc.epochs} epochs, batch {tc.batch_size}, "
        f"lr {tc.lr} "
        f"({tc.schedule}), momentum {tc.momentum}, weight decay {tc.weight_decay}"
    )


def _verdicts(rep: Report, ctx: ReportContext) -> None:
    if not ctx.claims:
        rep.paragraph("No claim was judged in this preset.")
        return
    rep.paragraph(
        "Each claim is judged from the confidence interval of its effect over training seeds "
        "(`resode.verdicts`): **reproduced** when the interval lies on the claimed side, "
        "**contradicted** when it excludes the smallest effect the claim needs (the margin), "
        "**inconclusive** otherwise — then the minimum detectable effect of this run and the seeds "
        "per model that would detect the margin are given."
    )
    if ctx.looks is not None and ctx.looks.looks:
        from resode.reproduce.looks import look_sentence

        rep.paragraph(
            look_sentence(ctx.looks) + " **verdict** is the headline (sequential for paper A, "
            "then Holm within each paper's family); **fixed-n** is this look's interval alone."
        )
    rows = []
    for c in ctx.claims:
        j = c.judgement
        rows.append(
            {
                "paper": c.part,
                "claim": c.name + (f" ({display_name(c.model)})" if c.model else ""),
                "verdict": c.verdict,
                "fixed-n": j.verdict,
                "effect [CI]": _effect_text(j),
                "margin": f"{j.margin:g} {j.unit}".strip(),
                "MDE": f"{j.min_detectable_effect:.3g}",
                "n": "/".join(map(str, j.n_seeds)),
                "n to detect the margin": _needed(j),
            }
        )
    rep.table(rows)
    rep.paragraph(
        "n: training seeds per model (paper A; treated / baseline), or the points of a fit / the "
        "seeds (paper B). MDE: the smallest effect this run detects with power 0.8. Effects are "
        "differences in accuracy points, ratios (×) for scale-free quantities, or slopes."
    )
    if "claims" in ctx.figures:
        rep.figure(ctx.figures["claims"], "Effects with confidence intervals against the margins")
    if ctx.failed:
        rep.paragraph(
            "Failed or missing cells (not averaged over silently): "
            + "; ".join(f"`{k}`: {v}" for k, v in sorted(ctx.failed.items()))
        )


def _needed(j: Any) -> str:
    """Seeds (or points) per group that would detect the margin: shown for inconclusive claims."""
    from resode.verdicts import INCONCLUSIVE, format_seeds

    if j.verdict != INCONCLUSIVE:
        return ""
    return format_seeds(j.seeds_needed)


def _effect_text(j: Any) -> str:
    lo, hi = j.ci
    if j.scale == "log":
        return f"×{j.effect:.3g} [{lo:.3g}, {hi:.3g}]"
    return f"{j.effect:+.3g} [{lo:+.3g}, {hi:+.3g}]"


def _paper_a(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        rep.paragraph("Not run in this preset.")
        return
    rep.paragraph(
        "Yang et al. 2020: the damped block x_{n+1} = (1 − λ_n)·x_n + f_n(x_n) interpolates "
        "between a ResNet block (λ = 0) and a plain layer (λ = 1). Accuracies in %, mean ± "
        f"std over {len(ctx.cfg.paper_a.seeds)} training seeds, every model on the same test "
        "images, the same noise and the same attack starts."
    )


def _models(ctx: ReportContext) -> list[str]:
    return [m for m in ctx.cfg.paper_a.models if ctx.a.by_model(m)]


def _headline(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        return
    rows = []
    for m in _models(ctx):
        row = {"model": display_name(m), "clean": fmt_mean_std(ctx.a.values(m, "clean"), pct=True)}
        for key, label in (
            ("noise_pooled", "noise (pooled)"),
            ("noise_drop", "drop to noise"),
            ("robust_auc", "robust AUC"),
            ("lambda_change", "λ moved (mean abs. change)"),
        ):
            vals = ctx.a.values(m, key)
            if vals:
                row[label] = fmt_mean_std(vals, pct=key != "lambda_change")
        rows.append(row)
    rep.table(rows)
    rep.paragraph(
        "Robust AUC: mean over ε ∈ [0, ε_max] of the per-sample worst case over every attack "
        "(trapezoid through the clean accuracy at ε = 0). Drop to noise: clean − noisy accuracy "
        "of the same model."
    )


def _noise(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        return
    pa = ctx.cfg.paper_a
    labels = list(ctx.a.runs[0].robustness.corruptions) if ctx.a.runs else []
    if any("×" in c for c in labels):
        rep.paragraph(
            "Rows labelled ×s use the CIFAR-C levels scaled by s (σ·s, amount·s, c/s): on this "
            "data the CIFAR-C levels cost the baseline too little to measure a difference. The "
            "noise claim is judged at the largest strength; the CIFAR-C rows are shown as well."
        )
    rows = []
    for c in labels:
        for s in [*map(str, pa.robustness.severities), "pooled"]:
            row = {"noise": c, "severity": s}
            for m in _models(ctx):
                vals = [r.robustness.corruptions[c][s] for r in ctx.a.by_model(m)]
                row[display_name(m)] = fmt_mean_std(vals, pct=True)
            rows.append(row)
    rep.table(rows)
    if "noise" in ctx.figures:
        rep.figure(ctx.figures["noise"], "Noise accuracy against severity (mean ± std over seeds)")


def _declared_attacks(rc: RobustnessConfig) -> tuple[list[str], list[str]]:
    """A paper-A cell's declared attack set in the registry's cascade order (weakest first), and
    those of it the engine runs on every clean-correct point (their own rows): the attacks of
    :func:`resode.robustness.evaluate.attack_specs` (no surrogate: the transfer attack is the
    second wave's) that :meth:`RobustnessConfig.reported_alone` keeps."""
    from resode.attacks import by_strength
    from resode.robustness.evaluate import attack_specs

    declared = by_strength([display for display, _, _ in attack_specs(rc, None)])
    return declared, [a for a in declared if rc.reported_alone(a)]


def _and(names: list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _adversarial(rep: Report, ctx: ReportContext) -> None:
    """The attack table: every row of :func:`resode.reproduce.paper_a.attack_rows` (attacks on
    their own, the cascade's cumulative rows, the worst case), mean ± std over seeds."""
    from resode.reproduce.paper_a import attack_rows

    if ctx.a is None:
        return
    rc = ctx.cfg.paper_a.robustness
    declared, alone = _declared_attacks(rc)
    if not declared:
        rep.paragraph(
            "No attacks were declared (`paper_a.robustness.attacks` is empty and AutoAttack is "
            "off): no adversarial accuracy was measured and the robustness claim is not judged."
        )
        return
    if not rc.cascade:
        how = " Every attack ran on every clean-correct point."
    elif alone == declared:
        how = (
            " Computed as a cascade, but every attack is in `paper_a.robustness.per_attack`, so "
            "each also ran on every clean-correct point (its own row)."
        )
    elif alone:
        how = (
            " Computed as a cascade: each attack runs only on the points still robust; "
            f"{_and([x.upper() for x in alone])} also on every clean-correct point "
            f"({'their' if len(alone) > 1 else 'its'} own rows), the other attacks show as "
            "cumulative rows."
        )
    else:
        how = (
            " Computed as a cascade: each attack runs only on the points still robust, none on "
            "every clean-correct point (`paper_a.robustness.per_attack` names none of them): "
            "every attack shows as a cumulative row."
        )
    rep.paragraph(
        f"Declared attack set (weakest first): {', '.join(x.upper() for x in declared)}; the "
        "robustness claim is judged on the per-point worst case over it (a point fooled at a "
        "smaller ε counts as fooled at every larger one: the balls are nested)." + how
    )
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in attack_rows(ctx.a):
        row = cells.setdefault(
            (r.attack, r.eps),
            {"attack": r.attack.upper() if r.attack in declared else r.attack, "ε": r.eps},
        )
        row[display_name(r.model)] = fmt_mean_std(r.per_seed, pct=True)
    rep.table(list(cells.values()))
    if "adversarial" in ctx.figures:
        rep.figure(ctx.figures["adversarial"], "Robust accuracy against ε, per attack")


def _masking(rep: Report, ctx: ReportContext) -> None:
    """Every gradient-masking check of every run with its numbers, and the robust accuracies
    with their intervals over images (Clopper–Pearson) and over seeds (t)."""
    from resode.reproduce.paper_a import attack_rows

    if ctx.a is None:
        return
    rows = []
    for r in ctx.a.runs:
        for c in r.checks:
            nums = ", ".join(f"{k} = {v:.4g}" for k, v in c.numbers.items())
            rows.append(
                {
                    "model": r.label,
                    "seed": str(r.seed),
                    "check": c.name,
                    "result": "pass" if c.passed else "RED FLAG",
                    "numbers": nums,
                    "reason": c.reason,
                }
            )
    if rows:
        rep.paragraph(
            "A red flag on a model makes its adversarial-robustness verdicts inconclusive "
            "(`resode.robustness.checks`)."
        )
        rep.table(rows)
    table = [
        {
            "model": display_name(row.model),
            "attack": row.attack,
            "ε": row.eps,
            "mean": f"{100 * row.mean:.1f} %",
            "95 % CI (images)": f"[{100 * row.images_ci[0]:.1f}, {100 * row.images_ci[1]:.1f}] %",
            "95 % CI (seeds)": f"[{100 * row.seeds_ci[0]:.1f}, {100 * row.seeds_ci[1]:.1f}] %",
        }
        for row in attack_rows(ctx.a)
    ]
    if table:
        rep.table(table)


def _lambdas(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        return
    rows = []
    for m in _models(ctx):
        runs = [r for r in ctx.a.by_model(m) if r.result.lambdas is not None]
        if not runs:
            continue
        for blk in runs[0].result.lambdas.final:
            fin = [r.result.lambdas.final[blk] for r in runs]
            ini = [r.result.lambdas.init[blk] for r in runs]
            rows.append(
                {
                    "model": display_name(m),
                    "block": blk,
                    "λ at init": fmt_num(*mean_std(ini)),
                    "λ trained": fmt_num(*mean_std(fin)),
                    "change": fmt_num(*mean_std([a - b for a, b in zip(fin, ini)])),
                }
            )
    if not rows:
        rep.paragraph("No model with learnable damping in this preset.")
        return
    rep.paragraph(
        "Learned λ_n per damped block against its initial value (λ = 0: ResNet block, 1: plain "
        "layer); mean ± std over seeds. The first block and the downsampling blocks are not damped."
    )
    rep.table(rows)
    for key, caption in (("lambdas", "Learned λ per block"), ("lambda_traj", "λ over epochs")):
        if key in ctx.figures:
            rep.figure(ctx.figures[key], f"{caption} (seed {ctx.cfg.paper_a.seeds[0]})")


def _stability(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        return
    rep.paragraph(
        "Scale-invariant readings judge the claim: the relative drift ‖h_B(x+η) − h_B(x)‖/‖h_B(x)‖ "
        "of the last hidden state under Gaussian noise and under FGSM at ε_max, and the "
        "scale-normalised amplification ∏_n G_n, G_n = (‖Δh_{n+1}‖/‖h_{n+1}‖)/(‖δ‖/‖h_n‖) for a "
        "small random δ. The raw product of amplifications ∏ ‖g_n(h+δ) − g_n(h)‖/‖δ‖ also "
        "contains the growth of the state ‖h_B‖/‖h_0‖, which damping shrinks; it is shown for "
        "reference. Lower is more stable; mean ± std over seeds."
    )
    rows = []
    for m in _models(ctx):
        row = {"model": display_name(m)}
        for key, label in (
            ("drift_noise_last", "drift (noise)"),
            ("drift_adv_last", "drift (FGSM)"),
            ("cum_gain_random", "∏ G (random δ)"),
            ("cum_gain_attack", "∏ G (attack δ)"),
            ("cum_amp_random", "∏ amp (random δ)"),
            ("state_growth", "‖h_B‖/‖h_0‖"),
            ("cum_sigma_max", "∏ σ_max"),
        ):
            row[label] = fmt_mean_std(ctx.a.values(m, f"stability/{key}"))
        rows.append(row)
    rep.table(rows)
    if "stability" in ctx.figures:
        rep.figure(
            ctx.figures["stability"], f"Stability per block (seed {ctx.cfg.paper_a.seeds[0]})"
        )


def _landscape(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None:
        return
    r = ctx.a.runs[0].metrics.get("landscape/radius", 0.0) if ctx.a.runs else 0.0
    rep.paragraph(
        "Input-space loss L(x + a·d_adv + b·d_rand), d_adv = sign(∇ₓL) (the FGSM direction), "
        f"d_rand a random sign vector, a, b ∈ [−{r * 255:.3g}, {r * 255:.3g}]/255. "
        "'Rise' = max over a ≥ 0 of L(x + a·d) − L(x): lower is flatter."
    )
    rows = []
    for m in _models(ctx):
        rows.append(
            {
                "model": display_name(m),
                "clean loss": fmt_mean_std(ctx.a.values(m, "landscape/clean_loss")),
                "rise along d_adv": fmt_mean_std(ctx.a.values(m, "landscape/loss_rise_adv")),
                "rise along d_rand": fmt_mean_std(ctx.a.values(m, "landscape/loss_rise_rand")),
            }
        )
    rep.table(rows)
    for key, caption in (
        ("landscape_1d", "1D loss along d_adv and d_rand"),
        ("landscape_2d", "2D input-space landscape"),
    ):
        if key in ctx.figures:
            rep.figure(ctx.figures[key], f"{caption} (seed {ctx.cfg.paper_a.seeds[0]})")


def _sweep(rep: Report, ctx: ReportContext) -> None:
    if ctx.a is None or not ctx.a.sweep:
        rep.paragraph("Not run in this preset.")
        return
    sw = ctx.cfg.sweep
    rep.paragraph(
        f"Pre-act ResNet-{sw.depth} with the same fixed λ in every damped block, seeds {sw.seeds}: "
        "descriptive (no claim of the paper is judged on it)."
    )
    rows = []
    for r in ctx.a.sweep:
        row = {"λ": r.result.lam, "seed": r.seed}
        for key in (
            "clean",
            "noise_pooled",
            *[f"{x}_mean" for x in sw.attacks],
            "robust_mean",
            "robust_auc",
        ):
            if key in r.metrics:
                row[key] = fmt_pct(r.metrics[key])
        rows.append(row)
    rep.table(rows)
    if "sweep" in ctx.figures:
        rep.figure(ctx.figures["sweep"], "Clean and robust accuracy against the fixed λ")


def _paper_a_claims(rep: Report, ctx: ReportContext) -> None:
    _claims_of(rep, ctx, "A")


def _claims_of(rep: Report, ctx: ReportContext, part: str) -> None:
    claims = [c for c in ctx.claims if c.part == part]
    if not claims:
        rep.paragraph("No claim judged.")
    for c in claims:
        how = (
            f"Family-wise adjusted (Holm, family {c.part}): {c.verdict} ({c.finding}); "
            f"raw: {c.raw_verdict} ({c.judgement.finding}). "
            if c.role == "primary"
            else "Secondary reading: reported, never decides, not adjusted. "
        )
        how += _sequential_text(c)
        rep.claim(c.title, c.verdict, how + c.evidence)


def _sequential_text(c: Any) -> str:
    """The sequential reading of a claim: look, information, the boundary this look had to beat."""
    r = c.sequential
    if r is None:
        return ""
    when = f", decided at look {r.decided_at}" if r.decided_at else ""
    return (
        f"Sequential (look {r.look}, information {r.information:.2f} of n_max): {r.finding}"
        f"{when}; this look's nominal one-sided level {r.nominal_level:.3g}. "
    )


def _paper_b(rep: Report, ctx: ReportContext) -> None:
    b = ctx.b
    if b is None:
        rep.paragraph("Not run in this preset.")
        return
    ds = ctx.cfg.paper_b.depth_sweep
    rep.paragraph(
        "Marion et al. 2024: h_{k+1} = h_k + (1/L)·σ(h_k W_k) V_k (the official code's "
        f"normalisation), GELU, full-batch GD on MSE with rate L × {ds.lr:g} (depth sweep); "
        f"synthetic data n = {ds.n}, d = {ds.d}, m = {ds.m}, "
        f"{'float64' if ds.float64 else 'float32'}, {ds.seeds} networks per depth, each seed its "
        "own data draw and init. V_k = 0 at init; W_k tied (one draw for all k) or i.i.d. Every "
        "experiment's own files (figures, JSON, CSV, Markdown) are in `paper_b/<experiment>/`."
    )


def _experiment_section(name: str) -> Writer:
    """The section of the registered paper-B experiment ``name``: its own ``report``."""

    def write(rep: Report, ctx: ReportContext) -> None:
        from resode.ode.experiments.protocol import get_experiment

        runs = ctx.b.variants(name) if ctx.b is not None else {}
        if runs:
            get_experiment(name).report(rep, runs, {**ctx.b.figures, **ctx.figures})
        elif ctx.b is not None and name in ctx.b.declared:
            rep.paragraph("Not finished: a cell failed (the failed cells are listed below).")
        else:
            rep.paragraph("Not run in this preset.")

    return write


def _paper_b_claims(rep: Report, ctx: ReportContext) -> None:
    _claims_of(rep, ctx, "B")


def _files(rep: Report, ctx: ReportContext) -> None:
    listing = sorted(str(p.relative_to(ctx.out)) for p in ctx.out.glob("*") if p.is_file())
    listing += ["report.md", "report.html"]
    rep.paragraph(
        "In this folder: "
        + ", ".join(f"`{f}`" for f in sorted(set(listing)))
        + ". Each task's folder holds its inputs and result (`result.json`): "
        "`paper_a/<model>-seed<s>/` (checkpoint, history, stability, landscape), "
        "`sweep/lam<λ>-seed<s>/`, `paper_b/...`."
    )


#: (heading, level, writer) in report order
SECTIONS: tuple[tuple[str, int, Writer], ...] = (
    ("Setup", 2, _setup),
    ("Verdicts", 2, _verdicts),
    ("Paper A", 2, _paper_a),
    ("Paper A: headline table", 3, _headline),
    ("Paper A: stochastic noise", 3, _noise),
    ("Paper A: adversarial attacks", 3, _adversarial),
    ("Paper A: gradient-masking checks and intervals", 3, _masking),
    ("Paper A: learned interpolation coefficients", 3, _lambdas),
    ("Paper A: Lyapunov stability", 3, _stability),
    ("Paper A: loss landscape", 3, _landscape),
    ("Paper A: fixed-λ sweep", 3, _sweep),
    ("Paper A: claims", 3, _paper_a_claims),
    ("Paper B", 2, _paper_b),
    *[(f"Paper B: {e.title}", 3, _experiment_section(e.name)) for e in experiments()],
    ("Paper B: claims", 3, _paper_b_claims),
    ("Files", 2, _files),
)


def build_report(ctx: ReportContext) -> Report:
    """The report with every section of :data:`SECTIONS`, in order."""
    rep = Report(f"resode reproduce — preset {ctx.cfg.preset}", ctx.out)
    for heading, level, writer in SECTIONS:
        rep.heading(heading, level)
        writer(rep, ctx)
    return rep


__all__ = ["SECTIONS", "ReportContext", "build_report"]
