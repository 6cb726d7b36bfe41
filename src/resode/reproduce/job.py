"""The ``resode reproduce`` job: build the grid of tasks, run it, judge the claims, report.

    tasks  = paper_a.tasks + paper_a.sweep_tasks + paper_b.tasks + paper_b.table1_tasks
    outcomes = executor.run(tasks)           # each task: own folder, fixed threads, resumable
    outcomes += executor.run(transfer.transfer_tasks(cfg, tasks, outcomes))  # second wave
    a, b   = paper_a.collect(outcomes), paper_b.collect(outcomes)
    claims = claims.paper_a_claims(a) + claims.paper_b_claims(b)   # resode.verdicts
    figures, results.json, claims.csv, report.{md,html}

A run folder is resumable: a finished task is reused, an unfinished one continues from its
checkpoint; everything after the tasks is recomputed from their results. Resuming with more
``paper_a.seeds`` (a strict superset) runs only the new cells and judges the run again as a new
look (``looks.json``, :mod:`resode.reproduce.looks`), read with the plan's sequential design.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.errors import ResodeError
from resode.reproduce import claims as claims_mod
from resode.reproduce import figures as fig
from resode.reproduce import looks as looks_mod
from resode.reproduce import paper_a, paper_b, transfer
from resode.reproduce.config import ExecutorOptions, ReproduceConfig
from resode.reproduce.report import ReportContext, build_report

CONFIG_FILE = "reproduce_config.yaml"


@dataclass
class ReproduceResult:
    """What :func:`run_reproduce` produced: the folder, the numbers and the judged claims."""

    out_dir: Path
    results: dict[str, Any]
    claims: list[claims_mod.ClaimResult]
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def default_out_dir(root: str | Path = "runs") -> Path:
    """A new ``runs/<timestamp>`` folder, created here so two runs started in the same second
    get distinct folders (``…-2``, ``…-3``: ``mkdir`` is atomic)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    Path(root).mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = Path(root) / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise ResodeError(f"cannot create a new run folder under {str(root)!r}; pass --out DIR")


def latest_run(root: str | Path = "runs") -> Path:
    """The newest ``runs/<timestamp>`` holding a reproduce config (for ``--resume``)."""
    cands = sorted(p.parent for p in Path(root).glob(f"*/{CONFIG_FILE}"))
    if not cands:
        raise ResodeError(
            f"--resume found no earlier reproduce run under {str(root)!r}; pass --out DIR of the "
            "run to continue"
        )
    return cands[-1]


def check_out_dir(
    cfg: ReproduceConfig, out: Path, resume: bool, resume_override: bool = False
) -> None:
    """Refuse to overwrite a finished run, or to resume one made with other settings unless
    ``resume_override`` (then the change is appended to ``out/resume_overrides.json``; the
    content-addressed tasks recompute exactly the cells the change touches)."""
    if out.exists() and not out.is_dir():
        raise ResodeError(f"--out {str(out)!r} is a file; choose a folder")
    path = out / CONFIG_FILE
    if not path.exists():
        return
    if not resume:
        raise ResodeError(
            f"{str(out)!r} already holds a reproduce run; pass --resume to continue it or choose "
            "another --out folder"
        )
    old = ReproduceConfig.from_yaml(path)
    # where the tasks run does not change their results (their threads do)
    keep = tuple(k for k in ExecutorOptions.field_names() if k != "threads")
    from resode.config import config_diff

    diff = [k for k in config_diff(old.to_dict(), cfg.to_dict()) if k not in keep]
    if diff == [SEEDS_KEY] and adds_seeds(old, cfg):
        return  # accumulating evidence: a new look (looks.json), no override needed
    if diff and resume_override:
        from resode.config import RESUME_OVERRIDES, record_override

        record_override(out / RESUME_OVERRIDES, diff, old.to_dict(), cfg.to_dict())
    elif diff:
        raise ResodeError(
            f"--resume: the run in {str(out)!r} used other settings ({', '.join(diff)}); rerun "
            f"with --preset {old.preset} and the same options, pass --resume-override to "
            "continue with the new ones (recorded in resume_overrides.json), or choose another "
            "--out"
        )


SEEDS_KEY = "paper_a.seeds"


def adds_seeds(old: ReproduceConfig, new: ReproduceConfig) -> bool:
    """True when ``new`` only adds paper-A seeds to ``old`` (a strict superset of them).

    Such a resume needs no ``--resume-override``: every finished (model, seed) cell keeps its
    digest, only the new cells run, and the re-judgement is a new *look* read with the
    pre-registered sequential design (:mod:`resode.reproduce.looks`) — a planned step that
    stays valid under optional stopping, not a deviation from the plan. Removing or replacing
    seeds is still refused (that would discard or swap evidence already looked at)."""
    return set(new.paper_a.seeds) > set(old.paper_a.seeds)


FINGERPRINT_KEY = "fingerprint"


def fingerprint_task() -> Any:
    """The machine's fingerprint (:mod:`resode.fingerprint`), computed in a worker like every
    task, so ``results.json`` says which machines give the same numbers. The kernel policy is a
    parameter: a run resumed under another policy recomputes it."""
    from resode.fingerprint import fingerprint_task as fn
    from resode.grid import Task
    from resode.grid.task import fn_ref
    from resode.kernels import current_policy

    return Task(
        key=FINGERPRINT_KEY,
        fn=fn_ref(fn),
        params={"kernels": current_policy().policy},
        label="fingerprint",
        cost=10.0,
    )


def all_tasks(cfg: ReproduceConfig, out: Path) -> list[Any]:
    """Every task of the job, in the order they are submitted (paper B's long cells first: the
    pool starts them first)."""
    return (
        paper_b.tasks(cfg, out)
        + paper_a.tasks(cfg)
        + paper_a.sweep_tasks(cfg)
        + [fingerprint_task()]
    )


def run_reproduce(
    config: ReproduceConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    resume_override: bool = False,
) -> ReproduceResult:
    """Run the whole job of ``config`` into ``out_dir`` (default ``runs/<timestamp>``);
    ``resume_override``: resume although the settings changed (recorded; see check_out_dir)."""
    from resode.grid import make_executor
    from resode.presets import find_preset
    from resode.report import prepare_out_dir
    from resode.runtime import environment

    cfg = config or _default_config()
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    if resume_override and not resume:
        raise ResodeError("--resume-override only applies with --resume; add --resume")
    check_out_dir(cfg, out, resume, resume_override)
    looks = looks_mod.load(out)  # read once, before the tasks: an unreadable record fails now
    tasks = all_tasks(cfg, out)  # builds every experiment config: invalid settings fail here
    executor = make_executor(cfg.executor, **cfg.executor_options())
    prepare_out_dir(out, what="reproduce run")
    cfg.to_yaml(out / CONFIG_FILE)
    t0 = time.perf_counter()
    outcomes = executor.run(tasks, out, progress=progress, desc="reproduce")
    jobs = (getattr(executor, "submitted", 0), getattr(executor, "reattached", 0))
    # the second wave: transfer attacks between the finished cells (reproduce/transfer.py)
    second = transfer.transfer_tasks(cfg, tasks, outcomes)
    if second:
        outcomes = {**outcomes, **executor.run(second, out, progress=progress, desc="transfer")}
        jobs = (
            jobs[0] + getattr(executor, "submitted", 0),
            jobs[1] + getattr(executor, "reattached", 0),
        )
    a = paper_a.collect(cfg, outcomes, out, tasks)
    b = paper_b.collect(cfg, outcomes, out)
    raw = (claims_mod.paper_a_claims(cfg, a) if a else []) + (
        claims_mod.paper_b_claims(cfg, b) if b else []
    )
    looks_mod.add_look(looks, cfg, raw)
    looks_mod.apply_sequential(looks, raw)  # paper A: repeated p-values over the looks
    judged = claims_mod.adjust_claims(raw)  # then Holm: the headline
    failed = {k: o.error or "failed" for k, o in outcomes.items() if not o.ok}
    env = environment()
    fingerprint = outcomes.get(FINGERPRINT_KEY)
    if fingerprint is not None and fingerprint.ok and fingerprint.result is not None:
        from resode.fingerprint import Fingerprint

        fp = Fingerprint.from_dict(fingerprint.result)
        env["fingerprint"], env["fingerprint_parts"] = fp.digest, fp.parts
    env["workers"] = getattr(executor, "workers", 1)
    env["task_cpu_seconds"] = sum(o.cpu_seconds for o in outcomes.values())
    if hasattr(executor, "submitted"):  # submitit: jobs this invocation submitted / re-attached
        env["jobs_submitted"], env["jobs_reattached"] = jobs
    figures = make_figures(cfg, a, b, judged, out)
    seconds = time.perf_counter() - t0
    results = results_dict(cfg, env, seconds, a, b, judged, failed, outcomes)
    results["look"] = {"look": looks.current.look, "sequence": len(looks.sequence_looks())}
    write_outputs(out, results, a, b, judged)
    looks_mod.write(out, looks)
    info = {}
    with contextlib.suppress(ResodeError):
        info = find_preset("reproduce", cfg.preset).info()
    ctx = ReportContext(cfg, out, env, seconds, a, b, judged, figures, failed, info, looks)
    build_report(ctx).write("report")
    files = sorted(p for p in out.glob("*") if p.is_file())
    return ReproduceResult(out, results, judged, seconds, failed, files)


def _default_config() -> ReproduceConfig:
    from resode.presets import get_preset

    cfg = get_preset("default", kind="reproduce")
    assert isinstance(cfg, ReproduceConfig)
    return cfg


def make_figures(
    cfg: ReproduceConfig, a: Any, b: Any, judged: list[Any], out: Path
) -> dict[str, Path]:
    """Every figure the report shows (skipping the parts that did not run)."""
    figs: dict[str, Path] = {}
    if judged:
        figs["claims"] = fig.claims_figure(judged, out / "claims.png")
    if a is not None and a.runs:
        pa = cfg.paper_a
        models = [m for m in pa.models if a.by_model(m)]
        seed = a.runs[0].seed
        if pa.robustness.corruptions:
            labels = list(a.runs[0].robustness.corruptions)
            figs["noise"] = fig.noise_figure(
                models, a, labels, pa.robustness.severities, out / "paper_a_noise.png"
            )
        if pa.robustness.attacks:
            figs["adversarial"] = fig.attack_figure(
                models, a, pa.robustness.attacks, out / "paper_a_adversarial.png"
            )
        figs.update(fig.lambda_figures(a, models, seed, out))
        st = fig.stability_figure(a, models, seed, out / "paper_a_stability.png")
        if st is not None:
            figs["stability"] = st
        figs.update(fig.landscape_figures(a, models, seed, out))
        if a.sweep:
            figs["sweep"] = fig.sweep_figure(
                a,
                cfg.sweep.depth,
                cfg.sweep.epochs or pa.training.epochs,
                out / "paper_a_lambda_sweep.png",
            )
    if b is not None and b.variants("depth_sweep"):
        sweeps = b.variants("depth_sweep")
        figs["depth_sweep"] = fig.depth_sweep_figure(sweeps, out / "paper_b_depth_sweep.png")
    return figs


def results_dict(
    cfg: ReproduceConfig,
    env: dict[str, Any],
    seconds: float,
    a: Any,
    b: Any,
    judged: list[Any],
    failed: dict[str, str],
    outcomes: dict[str, Any],
) -> dict[str, Any]:
    """Everything ``results.json`` holds: config, environment, every task result, claims."""
    res: dict[str, Any] = {
        "config": cfg.to_dict(),
        "environment": env,
        "wall_seconds": seconds,
        "claims": [c.to_dict() for c in judged],
        "failed": failed,
        "tasks": {
            k: {"reused": o.reused, "seconds": o.seconds, "cpu_seconds": o.cpu_seconds}
            for k, o in outcomes.items()
        },
    }
    if a is not None:
        res["paper_a"] = {
            "eps": a.eps,
            "eps_labels": a.eps_labels,
            "n_test": a.n_test,
            "n_attack": a.n_attack,
            "runs": [{"metrics": r.metrics, **r.result.to_dict()} for r in a.runs],
            "sweep": [{"metrics": r.metrics, **r.result.to_dict()} for r in a.sweep],
            # per model × attack × ε, with Clopper–Pearson (images) and t (seeds) intervals
            "attack_table": [row.to_dict() for row in paper_a.attack_rows(a)],
        }
    if b is not None:
        res["paper_b"] = paper_b_summaries(b)
    return res


def paper_b_summaries(b: Any) -> dict[str, Any]:
    """``results.json``'s ``paper_b``: each registered experiment's own ``summary`` (by variant
    where it has them, e.g. one depth sweep per init; None when it did not finish)."""
    from resode.ode.experiments.protocol import experiments

    out: dict[str, Any] = {}
    for exp in experiments():
        runs = b.variants(exp.name)
        if exp.name == "depth_sweep":  # variants by init
            out[exp.name] = {init: exp.summary(r) for init, r in runs.items()}
        else:
            out[exp.name] = exp.summary(runs[""]) if "" in runs else None
    return out


def write_outputs(out: Path, results: dict[str, Any], a: Any, b: Any, judged: list[Any]) -> None:
    """``results.json`` and the CSV tables next to it."""
    from resode.report import write_csv, write_json

    write_json(out / "results.json", results)
    write_csv(out / "claims.csv", [c.to_dict() for c in judged])
    if a is not None:
        write_csv(
            out / "paper_a_runs.csv",
            [{"model": r.model, "seed": r.seed, **r.metrics} for r in a.runs],
        )
        write_corruption_tables(out, a, baseline=results["config"]["paper_a"]["models"][0])
        if a.sweep:
            write_csv(
                out / "paper_a_lambda_sweep.csv",
                [{"lam": r.result.lam, "seed": r.seed, **r.metrics} for r in a.sweep],
            )
    if b is not None and b.variants("depth_sweep"):
        write_csv(
            out / "paper_b_depth_sweep.csv",
            [
                {
                    "init": init,
                    "depth": L,
                    "seed": s,
                    "max_dz": float(r.running_max_dz[i, -1, j]),
                    "L_max_dz": L * float(r.running_max_dz[i, -1, j]),
                    "final_loss": float(r.cell(L).history["loss"][-1][j]),
                }
                for init, r in b.variants("depth_sweep").items()
                for i, L in enumerate(r.depths)
                for j, s in enumerate(r.seeds)
            ],
        )


def write_corruption_tables(out: Path, a: Any, baseline: str | None = None) -> list[Path]:
    """``paper_a_corruptions.csv``/``.json``: per run (model, seed) × corruption × severity,
    with the Clopper–Pearson interval over the evaluated images (all 19 released CIFAR-C files
    when ``corruption_source = files`` and ``corruptions = [all]``); with ``baseline``
    ``paper_a_corruptions_ce.*``: each run's CE per corruption and mCE against the baseline's
    run of the same seed."""
    from resode.robustness.corruption_table import corruption_rows, write_corruption_table

    rows = [
        row
        for r in a.runs
        for row in corruption_rows(r.model, r.robustness.corruptions, r.robustness.n, r.seed)
    ]
    return write_corruption_table(out, rows, stem="paper_a_corruptions", baseline=baseline)


__all__ = ["ReproduceResult", "check_out_dir", "latest_run", "run_reproduce"]
