"""``resode robustness`` as a library call: checkpoints → models and the shared test subset →
:func:`~resode.robustness.evaluate.evaluate_models` → report files."""

from __future__ import annotations

import platform
from pathlib import Path

from resode.errors import ResodeError
from resode.robustness.config import RobustnessConfig
from resode.robustness.evaluate import (
    corruption_loader_for,
    evaluate_models,
    evaluation_device,
)
from resode.robustness.results import RobustnessResult


def run_robustness(
    checkpoints: list[str | Path],
    out_dir: str | Path | None,
    config: RobustnessConfig | None = None,
    *,
    progress: bool = True,
) -> RobustnessResult:
    """Load ``checkpoints``, evaluate them side by side on the seeded test subset
    (:mod:`resode.evalset`), write ``results.json``, ``results.csv`` and ``report.md`` (and,
    with corruptions, the per-corruption × severity ``corruptions.csv``/``.json``)."""
    from resode.evalset import check_fits, load_models, models_and_evalset, trained_image_size
    from resode.report import prepare_out_dir
    from resode.robustness.corruption_table import TABLE_FILES
    from resode.runtime import environment, torch_threads

    config = config or RobustnessConfig()
    if not checkpoints:
        raise ResodeError("give at least one checkpoint to evaluate")
    if out_dir is not None:
        prepare_out_dir(out_dir, (*RobustnessResult.FILES, *TABLE_FILES), what="robustness report")
    device = evaluation_device(config)
    with torch_threads(config.threads):
        models, ev = models_and_evalset(
            checkpoints,
            n=config.n_samples,
            seed=config.seed,
            dataset=config.dataset,
            data_root=config.data_root,
            image_size=config.image_size,
            device=device,
        )
        surrogate = None
        if config.surrogate is not None:
            (sur,) = load_models([config.surrogate], device=device)
            check_fits(sur.model, ev, config.surrogate, trained_image_size(sur.payload))
            surrogate = sur.model
        loader = corruption_loader_for(config, ev)
        results = evaluate_models(
            [(m.label, m.model) for m in models],
            ev.images,
            ev.labels,
            config,
            dataset=ev.dataset,
            surrogate=surrogate,
            corruption_loader=loader,
            progress=progress,
            device=device,
            checkpoints=[str(m.path) for m in models],
        )
        if config.checks:
            from resode.robustness.checks import run_checks

            for res, m in zip(results, models):
                # transfer from every other checkpoint (the λ = 0 twin, the other
                # architecture) and from --surrogate
                others = [(o.label, o.model) for o in models if o is not m]
                if surrogate is not None:
                    others.append(("surrogate", surrogate))
                res.checks = run_checks(
                    m.model,
                    ev.images,
                    ev.labels,
                    config,
                    dataset=ev.dataset,
                    attacks=res.attacks,
                    robust=res.robust,
                    device=device,
                    surrogates=others,
                )
        env = environment(device=device)
    result = RobustnessResult(
        config=config.replace(dataset=ev.dataset, image_size=ev.image_size, data_root=ev.data_root),
        dataset=ev.dataset,
        eps=config.resolved_eps(ev.dataset),
        indices=ev.indices,
        models=results,
        environment={**env, "python": platform.python_version()},
    )
    if out_dir is not None:
        result.write(out_dir)
        write_corruption_csv(result, Path(out_dir))
    return result


def write_corruption_csv(result: RobustnessResult, out: Path) -> list[Path]:
    """``corruptions.csv``/``.json``: every model × corruption × severity with its interval;
    ``corruptions_ce.*``: CE and mCE against the first model."""
    from resode.robustness.corruption_table import corruption_rows, write_corruption_table

    rows = [r for m in result.models for r in corruption_rows(m.label, m.corruptions, m.n)]
    base = result.models[0].label if result.models else None
    return write_corruption_table(out, rows, baseline=base)


__all__ = ["run_robustness"]
