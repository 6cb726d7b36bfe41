"""Paper A as a grid of tasks, and what the job makes of their results.

One task per (model, seed) trains the model (:func:`resode.training.train`), evaluates it on the
shared test subset (:func:`resode.robustness.evaluate_models`: the same noisy images and attack
starts for every model, since every random stream is seeded from the run's seed and a key naming
the stream, never from the model), reads its learned λ against their initial values, and runs the
stability and input-landscape analyses. One task per (λ, seed) of the fixed-λ sweep trains and
evaluates ``preact_resnet(depth, damping="fixed", lam=λ)``. Each task runs in its own folder with
a fixed thread count (:mod:`resode.grid`) and returns a typed result
(:class:`~resode.reproduce.runs.RunResult`; a seed-stacked group a
:class:`~resode.reproduce.runs.GroupResult`), stored as its ``to_dict()``; :func:`collect` reads
the stored results back into them (:func:`~resode.reproduce.runs.parse_cell`) and builds a
:class:`PaperAResult`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.grid import Task, TaskOutcome
from resode.grid.task import fn_ref
from resode.registry import display_name as pretty_model
from resode.reproduce.config import ReproduceConfig
from resode.reproduce.runs import (
    AttackIntervals,
    EvalSeconds,
    Evaluation,
    GroupResult,
    Lambdas,
    LandscapeSummary,
    RunResult,
    StabilitySummary,
    TrainSummary,
    parse_cell,
)
from resode.robustness.checks import CheckResult
from resode.robustness.config import RobustnessConfig
from resode.training.presets import TrainOverrides

# --------------------------------------------------------------------------------------------
# building the tasks


def _train_config(
    cfg: ReproduceConfig,
    model: str,
    seed: int,
    *,
    training: TrainOverrides | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The TrainConfig (as a dict) of one run: ``paper_a.training`` (a train preset with
    overrides) with this job's data set, seed, device and thread count."""
    pa = cfg.paper_a
    fixed: dict[str, Any] = {
        "model": model,
        "seed": seed,
        "dataset": pa.dataset,
        "device": cfg.device,
        "threads": cfg.threads,
        "eval_every": 10**6,  # the test split is evaluated once, at the last epoch
        "data_root": pa.data_root,
        "image_size": pa.image_size,
    }
    if model_kwargs:
        fixed["model_kwargs"] = model_kwargs
    return (training or pa.training).train_config(**fixed).to_dict()


def _evalset_params(cfg: ReproduceConfig) -> dict[str, Any]:
    """The shared test subset: ``paper_a.robustness.n_samples`` images of the job's data set,
    drawn with the job's seed (:func:`resode.evalset.load_evalset`)."""
    pa = cfg.paper_a
    return {
        "dataset": pa.dataset,
        "root": pa.data_root,
        "image_size": pa.image_size,
        "n": pa.robustness.n_samples,
        "seed": cfg.seed,
    }


def task_robustness(cfg: ReproduceConfig) -> RobustnessConfig:
    """``paper_a.robustness`` with the keys the job owns (:data:`~resode.reproduce.config.JOB_KEYS`)
    set: the data set, the seed and the device. Every cell's evaluation config."""
    return cfg.paper_a.robustness.replace(
        dataset=cfg.paper_a.dataset, seed=cfg.seed, device=cfg.device
    )


def analysis_configs(cfg: ReproduceConfig) -> tuple[dict, dict]:
    """The StabilityConfig and LandscapeConfig (as dicts) of the per-run analyses: the nested
    ``paper_a.stability`` / ``paper_a.landscape`` with the job's seed."""
    pa = cfg.paper_a
    return pa.stability.replace(seed=cfg.seed).to_dict(), pa.landscape.replace(
        seed=cfg.seed
    ).to_dict()


def resolved_eps(cfg: ReproduceConfig) -> list[float]:
    """The attack radii of paper A: ``paper_a.robustness.eps``, else the data set's default."""
    return cfg.paper_a.robustness.resolved_eps(cfg.paper_a.dataset)


def _cell_seconds(train: dict[str, Any], *, analyses: bool) -> float:
    """Rough seconds of a paper-A cell (one thread, 8×8 digits: ≈ 1 s per epoch of the full
    training split, ≈ 20 s of evaluation, ≈ 4 s of analyses); only orders the tasks."""
    images = train.get("train_subset") or 1438
    return train["epochs"] * images / 1438 + 20 + (4 if analyses else 0)


def tasks(cfg: ReproduceConfig) -> list[Task]:
    """One task per (model, seed): train, evaluate, λ, stability, landscape."""
    pa = cfg.paper_a
    if not pa.enabled:
        return []
    stab, land = analysis_configs(cfg)
    if pa.seed_batch > 1:
        return _group_tasks(cfg, stab, land)
    rob = task_robustness(cfg)
    out = []
    for model in pa.models:
        for seed in pa.seeds:
            params = {
                "model": model,
                "seed": seed,
                "train": _train_config(cfg, model, seed),
                "evalset": _evalset_params(cfg),
                "robustness": rob.to_dict(),
                "attack_subset": pa.attack_subset,
                "checks": rob.checks and bool(rob.attacks),
                "stability": stab,
                "landscape": land,
            }
            out.append(
                Task(
                    key=f"paper_a/{model}-seed{seed}",
                    fn=CELL_FN,
                    params=params,
                    threads=cfg.threads,
                    label=f"{pretty_model(model)} seed {seed}",
                    cost=_cell_seconds(params["train"], analyses=True),
                )
            )
    return out


def seed_groups(seeds: list[int], size: int) -> list[list[int]]:
    """``seeds`` in consecutive groups of ``size`` (the last may be smaller)."""
    return [list(seeds[i : i + size]) for i in range(0, len(seeds), size)]


def _group_tasks(cfg: ReproduceConfig, stab: dict, land: dict) -> list[Task]:
    """``seed_batch > 1``: one task per (model, group of seeds), trained as one seed-stacked
    network (:mod:`resode.training.seed_batch`) and evaluated per seed, as one-seed tasks are."""
    pa = cfg.paper_a
    rob = task_robustness(cfg)
    out = []
    for model in pa.models:
        for group in seed_groups(list(pa.seeds), pa.seed_batch):
            trains = [_train_config(cfg, model, s) for s in group]
            params = {
                "model": model,
                "seeds": group,
                "trains": trains,
                "evalset": _evalset_params(cfg),
                "robustness": rob.to_dict(),
                "attack_subset": pa.attack_subset,
                "checks": rob.checks and bool(rob.attacks),
                "stability": stab,
                "landscape": land,
            }
            out.append(
                Task(
                    key=f"paper_a/{model}-seeds{'_'.join(str(s) for s in group)}",
                    fn=GROUP_FN,
                    params=params,
                    threads=cfg.threads,
                    label=f"{pretty_model(model)} seeds {', '.join(str(s) for s in group)}",
                    cost=sum(_cell_seconds(t, analyses=True) for t in trains),
                )
            )
    return out


def sweep_robustness(cfg: ReproduceConfig) -> RobustnessConfig:
    """The sweep's evaluation (the rule of :class:`~resode.reproduce.config.SweepConfig`): paper
    A's with the sweep's attacks, severities and ε (None: paper A's), no AutoAttack, no checks."""
    sw = cfg.sweep
    eps = sw.eps if sw.eps is not None else cfg.paper_a.robustness.eps
    return task_robustness(cfg).replace(
        attacks=list(sw.attacks),
        autoattack=False,
        eps=eps,
        severities=list(sw.severities),
        checks=False,
    )


def sweep_tasks(cfg: ReproduceConfig) -> list[Task]:
    """One task per (λ, seed) of the fixed-λ sweep: train and evaluate, no analyses."""
    sw, pa = cfg.sweep, cfg.paper_a
    if not (pa.enabled and sw.enabled and sw.lambdas):
        return []
    rob = sweep_robustness(cfg).to_dict()
    training = pa.training if sw.epochs is None else pa.training.replace(epochs=sw.epochs)
    out = []
    for lam in sw.lambdas:
        for seed in sw.seeds:
            kw = {"depth": sw.depth, "damping": "fixed", "lam": float(lam)}
            params = {
                "model": "preact_resnet",
                "seed": seed,
                "lam": float(lam),
                "train": _train_config(
                    cfg, "preact_resnet", seed, training=training, model_kwargs=kw
                ),
                "evalset": _evalset_params(cfg),
                "robustness": rob,
                "attack_subset": pa.attack_subset,
                "stability": None,
                "landscape": None,
            }
            out.append(
                Task(
                    key=f"sweep/lam{lam:g}-seed{seed}",
                    fn=CELL_FN,
                    params=params,
                    threads=cfg.threads,
                    label=f"λ = {lam:g} seed {seed}",
                    cost=_cell_seconds(params["train"], analyses=False),
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# running one task (in a worker process)


def run_cell(params: dict[str, Any], folder: Path) -> RunResult:
    """Train (or finish, or reuse) one run in ``folder``, then evaluate and analyse it: its
    :class:`RunResult` (the task runner stores ``to_dict()`` in ``folder/result.json``)."""
    import time

    from resode.training import TrainConfig, train

    t0 = time.perf_counter()
    tcfg = TrainConfig.from_dict(params["train"])
    trained = train(tcfg, folder, resume=True, progress=False)
    return _evaluate_run(trained, tcfg, time.perf_counter() - t0, params, folder)


def _evaluate_run(
    trained: Any, tcfg: Any, train_seconds: float, params: dict[str, Any], folder: Path
) -> RunResult:
    """Evaluate and analyse one trained run (its checkpoint), as one run's result."""
    from resode.checkpoint import load_checkpoint
    from resode.evalset import load_evalset
    from resode.robustness import RobustnessConfig, evaluation_device

    last = trained.history[-1] if trained.history else {}
    ck = load_checkpoint(trained.checkpoint_path)
    model = ck.model
    ev = load_evalset(**params["evalset"])
    out = RunResult(
        model=params["model"],
        seed=params["seed"],
        train=TrainSummary(
            checkpoint=trained.checkpoint_path.name,
            seconds=train_seconds,
            epochs=last.get("epoch"),
            train_acc=last.get("train_acc"),
            test_acc_full=last.get("test_acc"),
            threads=tcfg.threads,
        ),
        n_test=len(ev),
        indices=ev.indices,
        robustness=_evaluate(model, ev, params),
        lambdas=_lambdas(ck),
        lam=params.get("lam"),
    )
    if params.get("checks"):
        out.checks = _checks(model, ev, params, out.robustness)
    # the analyses run where the evaluation ran (they follow the model's device)
    model = model.to(evaluation_device(RobustnessConfig.from_dict(params["robustness"])))
    if params.get("stability"):
        out.stability = _stability(model, ev, params["stability"], folder)
    if params.get("landscape"):
        out.landscape = _landscape(model, ev, params["landscape"], folder)
    return out


def run_cell_group(params: dict[str, Any], folder: Path) -> GroupResult:
    """Train (or finish) a group of seeds of one model as one seed-stacked network, each seed in
    ``folder/seed<s>`` (an ordinary run folder), then evaluate and analyse every seed exactly as
    :func:`run_cell` does: a :class:`GroupResult`, one :class:`RunResult` per seed (stored as
    ``{"runs": [...]}``)."""
    import time

    from resode.training import TrainConfig
    from resode.training.seed_batch import train_seed_batch

    t0 = time.perf_counter()
    tcfgs = [TrainConfig.from_dict(t) for t in params["trains"]]
    dirs = [folder / f"seed{s}" for s in params["seeds"]]
    trained = train_seed_batch(tcfgs, dirs, resume=True)
    seconds = (time.perf_counter() - t0) / len(tcfgs)  # the batch's time, shared equally
    runs = []
    for seed, tcfg, tr, d in zip(params["seeds"], tcfgs, trained, dirs):
        one = {k: v for k, v in params.items() if k not in ("seeds", "trains")}
        one.update(seed=seed, train=tcfg.to_dict())
        res = _evaluate_run(tr, tcfg, seconds, one, d)
        res.train.seed_batch = len(tcfgs)
        runs.append(res)
    return GroupResult(runs)


#: the worker's entry points, as the tasks name them (``grid.task.resolve`` imports them)
CELL_FN = fn_ref(run_cell)
GROUP_FN = fn_ref(run_cell_group)


def _evaluate(model: Any, ev: Any, params: dict[str, Any]) -> Evaluation:
    """Clean and noise accuracy on every evaluated image; the attacks on the first
    ``attack_subset`` of them (with the clean accuracy on that part, for the robust curve)."""
    import time

    from resode.robustness import RobustnessConfig, evaluate_models, evaluation_device
    from resode.robustness.evaluate import corruption_loader_for

    rcfg = RobustnessConfig.from_dict(params["robustness"])
    device = evaluation_device(rcfg)  # the one resolver, shared with `resode robustness`
    head = ev.head(params.get("attack_subset"))
    t0 = time.perf_counter()
    noise = evaluate_models(
        [("m", model)],
        ev.images,
        ev.labels,
        rcfg.replace(attacks=[]),
        dataset=ev.dataset,
        corruption_loader=corruption_loader_for(rcfg, ev),
        progress=False,
        device=device,
    )[0]
    t1 = time.perf_counter()
    if rcfg.attacks:
        att = evaluate_models(
            [("m", model)],
            head.images,
            head.labels,
            rcfg.replace(corruptions=[]),
            dataset=ev.dataset,
            progress=False,
            device=device,
        )[0]
        attacks, robust, clean_att = att.attacks, att.robust, att.clean
        cumulative = att.cumulative
        per_attack = {k[len("attack/") :]: v for k, v in att.seconds.items() if "/" in k}
    else:
        attacks, robust, clean_att, cumulative, per_attack = {}, {}, noise.clean, {}, {}
    n_att = len(head)
    return Evaluation(
        n=noise.n,
        n_attack=n_att,
        clean=noise.clean,
        clean_attack_subset=clean_att,
        corruptions=noise.corruptions,
        attacks=attacks,
        robust=robust,
        cumulative=cumulative,
        declared_attacks=list(rcfg.attacks) + (["autoattack"] if rcfg.autoattack else []),
        cascade=rcfg.cascade,
        intervals=attack_intervals(attacks, robust, cumulative, n_att),
        eps=rcfg.resolved_eps(ev.dataset),
        seconds=EvalSeconds(t1 - t0, time.perf_counter() - t1, per_attack),
    )


def attack_intervals(
    attacks: dict[str, dict[str, float]],
    robust: dict[str, float],
    cumulative: dict[str, dict[str, float]],
    n: int,
    level: float = 0.95,
) -> AttackIntervals:
    """Clopper–Pearson intervals over the ``n`` attacked images of one run, per attack and ε
    (``attacks``), for the worst case (``robust``) and the cumulative rows: ``[lo, hi]``."""
    from resode.robustness.intervals import clopper_pearson

    def ci(acc: float) -> list[float]:
        return list(clopper_pearson(round(acc * n), n, level))

    return AttackIntervals(
        level=level,
        attacks={a: {lev: ci(v) for lev, v in accs.items()} for a, accs in attacks.items()},
        robust={lev: ci(v) for lev, v in robust.items()},
        cumulative={a: {lev: ci(v) for lev, v in accs.items()} for a, accs in cumulative.items()},
    )


def _checks(model: Any, ev: Any, params: dict[str, Any], rob: Evaluation) -> list[CheckResult]:
    """The gradient-masking checks (:mod:`resode.robustness.checks`) on the attacked subset,
    against this run's white-box accuracies (``rob``); on the evaluation's device."""
    from resode.robustness import RobustnessConfig, evaluation_device
    from resode.robustness.checks import run_checks

    rcfg = RobustnessConfig.from_dict(params["robustness"])
    head = ev.head(params.get("attack_subset"))
    return run_checks(
        model,
        head.images,
        head.labels,
        rcfg,
        dataset=ev.dataset,
        attacks=rob.attacks,
        robust=rob.robust,
        device=evaluation_device(rcfg),
    )


def _lambdas(ck: Any) -> Lambdas | None:
    """Learned λ per damped block (mean over channels) and their values at initialisation
    (the same model rebuilt with the run's seed: the engine seeds before building it)."""
    import torch

    from resode.registry import create_model
    from resode.training.history import lambda_values

    final = lambda_values(ck.model)
    if not final:
        return None
    seed = int((ck.payload.get("config") or {}).get("seed", 0))
    torch.manual_seed(seed)
    spec = ck.payload["model"]
    init = lambda_values(create_model(spec["name"], **spec["kwargs"]))

    def mean(v: list[float]) -> float:
        return sum(v) / len(v)

    return Lambdas(
        final={k: mean(v) for k, v in final.items()},
        init={k: mean(v) for k, v in init.items()},
    )


def _stability(model: Any, ev: Any, scfg: dict[str, Any], folder: Path) -> StabilitySummary:
    """Scalar stability summaries; the full per-block result goes to ``stability.json``."""
    from resode.analysis import StabilityConfig, analyze_stability

    cfg = StabilityConfig.from_dict(scfg)
    st = analyze_stability(model, ev.images, ev.labels, cfg, name="model")
    st.to_json(folder / "stability.json")
    return StabilitySummary(
        cum_amp_random=st.cum_amp_random[-1],
        cum_amp_attack=st.cum_amp_attack[-1],
        cum_gain_random=st.cum_gain_random[-1],
        cum_gain_attack=st.cum_gain_attack[-1],
        state_growth=math.prod(st.norm_ratio_geomean),
        cum_sigma_max=st.cum_sigma_max[-1],
        drift_noise_last=st.drift_noise_mean[-1],
        drift_adv_last=st.drift_adv_mean[-1],
    )


def _landscape(model: Any, ev: Any, lcfg: dict[str, Any], folder: Path) -> LandscapeSummary:
    """Loss rise along the attack and a random direction; the grids go to ``landscape.json``."""
    from resode.analysis import LandscapeConfig, analyze_landscape

    cfg = LandscapeConfig.from_dict(lcfg)
    la = analyze_landscape(model, ev.images, ev.labels, cfg, space="input", name="model")
    la.to_json(folder / "landscape.json")

    def rise(curve: dict[str, list[float]]) -> float:
        coords, loss = curve["coords"], curve["loss"]
        zero = min(range(len(coords)), key=lambda i: abs(coords[i]))
        return max(loss[i] for i in range(len(coords)) if coords[i] >= 0) - loss[zero]

    return LandscapeSummary(
        clean_loss=la.clean_loss,
        loss_rise_adv=rise(la.curves["input/adv"]),
        loss_rise_rand=rise(la.curves["input/rand"]),
        radius=cfg.input_radius,
    )


# --------------------------------------------------------------------------------------------
# collecting the results


@dataclass
class RunRecord:
    """One trained and evaluated run, with its derived scalar metrics (see :func:`metrics`)."""

    model: str
    seed: int
    folder: Path
    result: RunResult | None  # None: a record rebuilt from the metrics alone (a README file)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return pretty_model(self.model)

    @property
    def checks(self) -> list[CheckResult]:
        """The run's masking checks (white-box and transfer; empty when none ran)."""
        return list(self.result.checks or []) if self.result is not None else []

    @property
    def robustness(self) -> Evaluation:
        assert self.result is not None, "a record without its run's result"
        return self.result.robustness


@dataclass
class PaperAResult:
    """Every run of paper A (and of the sweep), the ε grid, and the cells that failed."""

    runs: list[RunRecord]
    sweep: list[RunRecord]
    failed: dict[str, str]
    eps: list[float]
    eps_labels: list[str]
    n_test: int
    n_attack: int
    #: task key → the model of that failed task (from the task's own parameters, never its key)
    failed_models: dict[str, str] = field(default_factory=dict)

    def failed_of(self, model: str) -> list[str]:
        """The keys of the failed tasks that trained ``model``."""
        return [k for k, m in self.failed_models.items() if m == model]

    def values(self, model: str, metric: str) -> list[float]:
        """``metric`` of every seed of ``model`` (in seed order)."""
        return [r.metrics[metric] for r in self.runs if r.model == model and metric in r.metrics]

    def by_model(self, model: str) -> list[RunRecord]:
        return [r for r in self.runs if r.model == model]


def robust_auc(eps: list[float], robust: list[float], clean: float) -> float:
    """Mean robust accuracy over [0, ε_max]: (1/ε_max)∫₀^{ε_max} acc(ε) dε by the trapezoid rule
    through (0, clean accuracy of the attacked images) and the measured (ε_i, acc_i)."""
    xs = [0.0, *eps]
    ys = [clean, *robust]
    area = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(len(xs) - 1))
    return area / xs[-1] if xs[-1] > 0 else clean


def metrics(result: RunResult) -> dict[str, float]:
    """The scalar metrics of one run that summaries and claims use (accuracies as fractions):

    clean, noise_pooled (mean over the stochastic noise types — Gaussian, shot, impulse,
    speckle; released blur/weather/digital files go to other_corruptions_pooled — of the
    pooled-over-severities accuracy), noise_drop
    (clean − noise_pooled: each model against its own clean accuracy; both at the largest noise
    strength, and per strength as ``noise_pooled×s``/``noise_drop×s``), ``<attack>_mean`` (mean
    over ε), robust_mean, robust_auc (:func:`robust_auc`), λ summaries, and the stability and
    landscape scalars of the run.
    """
    from resode.corruptions import CORRUPTION_PARAMETERS  # the four stochastic noises

    rob = result.robustness
    m: dict[str, float] = {"clean": rob.clean}
    by_strength: dict[str, list[float]] = {}
    other: list[float] = []
    for label, accs in rob.corruptions.items():
        name, _, strength = label.partition("×")
        if name not in CORRUPTION_PARAMETERS:  # a released blur / weather / digital file
            other.append(accs["pooled"])
            continue
        by_strength.setdefault(strength or "1", []).append(accs["pooled"])
    if other:  # the released non-noise files: reported, never in the noise claim
        m["other_corruptions_pooled"] = sum(other) / len(other)
    for strength, pooled in by_strength.items():
        m[f"noise_pooled×{strength}"] = sum(pooled) / len(pooled)
        m[f"noise_drop×{strength}"] = m["clean"] - m[f"noise_pooled×{strength}"]
    if by_strength:  # the judged noise: the largest strength
        top = max(by_strength, key=float)
        m["noise_pooled"], m["noise_drop"] = m[f"noise_pooled×{top}"], m[f"noise_drop×{top}"]
    for atk, accs in rob.attacks.items():
        m[f"{atk}_mean"] = sum(accs.values()) / len(accs)
    if rob.robust:
        rv = list(rob.robust.values())
        m["robust_mean"] = sum(rv) / len(rv)
        m["robust_auc"] = robust_auc(rob.eps, rv, rob.clean_attack_subset)
    lam = result.lambdas
    if lam is not None:
        fin, ini = list(lam.final.values()), list(lam.init.values())
        m["lambda_mean"] = sum(fin) / len(fin)
        m["lambda_init_mean"] = sum(ini) / len(ini)
        m["lambda_change"] = sum(abs(a - b) for a, b in zip(fin, ini)) / len(fin)
    m.update(result.summaries())
    return m


def collect(
    cfg: ReproduceConfig, outcomes: dict[str, TaskOutcome], root: Path, tasks: Sequence[Task]
) -> PaperAResult | None:
    """Turn the task outcomes into a :class:`PaperAResult` (None when paper A did not run);
    ``tasks``: the job's tasks. A cell is a task of :data:`CELL_FN` or :data:`GROUP_FN` (its
    function says how its result reads), a sweep run one whose parameters hold ``lam``; the
    parameters name the model of a failed cell."""
    from resode.robustness import eps_label

    if not cfg.paper_a.enabled:
        return None
    runs, sweep, failed = [], [], {}
    from resode.reproduce import transfer

    # the job's paper-A cells (one-seed runs, seed-stacked groups, the fixed-λ sweep's runs)
    cells = {t.key: t for t in tasks if t.fn in (CELL_FN, GROUP_FN)}
    failed_models: dict[str, str] = {}

    for key, oc in outcomes.items():
        task = cells.get(key)
        if task is None:  # another part's task (paper B, the transfer wave, the fingerprint)
            continue
        if not oc.ok:
            failed[key] = oc.error or "failed"
            if "lam" not in task.params:  # a sweep run names no model of the comparison
                failed_models[key] = task.params["model"]
            continue
        group = task.fn == GROUP_FN  # one record per seed, each in its own folder
        for one in parse_cell(oc.result or {}, group=group):
            folder = root / key / f"seed{one.seed}" if group else root / key
            rec = RunRecord(one.model, one.seed, folder, one, metrics(one))
            (sweep if "lam" in task.params else runs).append(rec)
    transfer.attach(cfg, runs, outcomes)  # the second wave: transfer numbers and checks
    order = {m: i for i, m in enumerate(cfg.paper_a.models)}
    runs.sort(key=lambda r: (order.get(r.model, 99), r.seed))
    sweep.sort(key=lambda r: ((r.result.lam if r.result else None) or 0.0, r.seed))
    eps = resolved_eps(cfg)
    first = runs[0].result if runs else None
    return PaperAResult(
        runs=runs,
        sweep=sweep,
        failed=failed,
        eps=eps,
        eps_labels=[eps_label(e) for e in eps],
        n_test=first.n_test if first else 0,
        n_attack=first.robustness.n_attack if first else 0,
        failed_models=failed_models,
    )


__all__ = [
    "WORST_CASE",
    "PaperAResult",
    "RunRecord",
    "attack_intervals",
    "attack_rows",
    "collect",
    "cumulative_label",
    "metrics",
    "robust_auc",
    "run_cell",
    "run_cell_group",
    "seed_groups",
    "sweep_tasks",
    "tasks",
]


#: label of the per-point worst case over the declared set in the attack table
WORST_CASE = "worst case"


def cumulative_label(attack: str) -> str:
    """Label of a cascade-only attack's row: the worst case over the attacks up to it."""
    return f"≤ {attack} (cascade)"


def attack_rows(a: PaperAResult) -> list[Any]:
    """Per model × attack × ε: the per-seed robust accuracies with intervals over images
    (Clopper–Pearson, the seeds' counts pooled) and over seeds (t). Attacks: those measured on
    their own (every clean-correct point), then for the attacks the cascade ran only on the
    points still robust their cumulative row (:func:`cumulative_label`: the worst case over the
    attacks up to it), and ``worst case`` (the per-point worst case over the declared set)."""
    from resode.robustness.intervals import accuracy_row

    rows = []
    models = list(dict.fromkeys(r.model for r in a.runs))
    for m in models:
        rob = [r.robustness for r in a.by_model(m)]
        own = list(dict.fromkeys(k for x in rob for k in x.attacks))
        cum = [k for k in dict.fromkeys(k for x in rob for k in x.cumulative) if k not in own][
            :-1
        ]  # the last cumulative row is the worst case itself
        tables: list[tuple[str, list[dict[str, float]]]] = [
            *[(atk, [x.attacks.get(atk, {}) for x in rob]) for atk in own],
            *[(cumulative_label(atk), [x.cumulative.get(atk, {}) for x in rob]) for atk in cum],
            (WORST_CASE, [x.robust for x in rob]),
        ]
        for label, per_run in tables:
            for lev in a.eps_labels:
                vals = [t[lev] for t in per_run if lev in t]
                if vals:
                    rows.append(accuracy_row(m, label, lev, vals, a.n_attack))
    return rows
