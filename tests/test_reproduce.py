"""``resode reproduce``: the tiny preset end to end, determinism, resume, report structure, CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resode.cli import main
from resode.errors import ConfigError, ResodeError
from resode.reproduce import ReproduceConfig, get_preset
from resode.reproduce.job import check_out_dir
from resode.reproduce.report import SECTIONS
from resode.verdicts import VERDICTS

# ---------------------------------------------------------------------------------------------
# the tiny preset, run once for the module (local executor: two worker processes)


@pytest.fixture(scope="module")
def tiny_run(tiny_local_run: Path) -> Path:
    return tiny_local_run


def numbers(run: Path) -> dict:
    """Every number of a run's results.json except timings, dates and paths."""
    res = json.loads((run / "results.json").read_text())
    drop = {"seconds", "wall_seconds", "environment", "tasks", "checkpoint", "train_seconds"}

    def clean(obj):  # type: ignore[no-untyped-def]
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if k not in drop}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    return clean(res)


@pytest.mark.slow
def test_tiny_report_has_every_section_in_order(tiny_run: Path) -> None:
    md = (tiny_run / "report.md").read_text()
    headings = [m.group(1).strip() for m in re.finditer(r"^#{2,3} (.+)$", md, flags=re.M)]
    assert headings == [s[0] for s in SECTIONS]
    html = (tiny_run / "report.html").read_text()
    for section, _, _ in SECTIONS:
        assert f">{section}</h" in html.replace("&amp;", "&")


@pytest.mark.slow
def test_tiny_results_hold_every_model_and_seed(tiny_run: Path) -> None:
    cfg = get_preset("tiny")
    pa = cfg.paper_a
    ev = pa.robustness  # the nested evaluation config
    results = json.loads((tiny_run / "results.json").read_text())
    assert results["config"] == cfg.to_dict()
    assert results["failed"] == {}
    runs = results["paper_a"]["runs"]
    assert sorted((r["model"], r["seed"]) for r in runs) == sorted(
        (m, s) for m in pa.models for s in pa.seeds
    )
    for r in runs:
        rob = r["robustness"]
        assert 0.0 <= rob["clean"] <= 1.0
        labels = {c + ("" if s == 1 else f"×{s:g}") for c in ev.corruptions for s in [1, 3]}
        assert set(rob["corruptions"]) == labels
        x3 = [rob["corruptions"][f"{c}×3"]["pooled"] for c in ev.corruptions]
        assert r["metrics"]["noise_pooled"] == pytest.approx(sum(x3) / len(x3))
        for accs in rob["corruptions"].values():
            assert set(accs) == {*map(str, ev.severities), "pooled"}
            sev = [accs[str(s)] for s in ev.severities]  # same number of images at each
            assert accs["pooled"] == pytest.approx(sum(sev) / len(sev))
        own = [a for a in ev.attacks if a in ("fgsm", "ifgsm", "pgd")]  # the paper's table
        assert set(rob["attacks"]) == set(own)  # the cascade ran APGD on the robust points only
        assert list(rob["cumulative"]) == list(ev.attacks)
        assert rob["cumulative"][ev.attacks[-1]] == rob["robust"]
        assert rob["declared_attacks"] == list(ev.attacks) and rob["cascade"]
        for lev, acc in rob["robust"].items():  # worst case ≤ every attack and ≤ clean
            assert acc <= min(rob["attacks"][a][lev] for a in own) + 1e-12
            assert acc <= rob["clean_attack_subset"] + 1e-12
            lo, hi = rob["intervals"]["robust"][lev]
            assert lo <= acc <= hi
        m = r["metrics"]
        assert m["noise_drop"] == pytest.approx(m["clean"] - m["noise_pooled"])
        assert 0.0 <= m["robust_auc"] <= rob["clean_attack_subset"] + 1e-12
        assert (tiny_run / "paper_a" / f"{r['model']}-seed{r['seed']}" / "last.pt").is_file()
        assert bool(r["lambdas"]) == (r["model"] != "resnet20")  # the ResNet has no λ
        names = [c["name"] for c in r["checks"]]  # the masking checks ran with the claims
        assert names[:2] == ["flags", "monotonicity"] and "eps_sweep" in names
    table = results["paper_a"]["attack_table"]
    from resode.reproduce.paper_a import cumulative_label

    labels = [*own, *[cumulative_label(a) for a in ev.attacks[len(own) : -1]], "worst case"]
    assert {(t["model"], t["attack"]) for t in table} == {(m, a) for m in pa.models for a in labels}
    for t in table:
        assert t["images_ci"][0] <= t["mean"] <= t["images_ci"][1]
    assert sorted(r["lam"] for r in results["paper_a"]["sweep"]) == sorted(cfg.sweep.lambdas)
    sweep = results["paper_b"]["depth_sweep"]
    assert set(sweep) == set(cfg.paper_b.inits)
    for e in sweep.values():
        assert e["depths"] == sorted(cfg.paper_b.depth_sweep.depths)
        assert all(len(v) == cfg.paper_b.depth_sweep.seeds for v in e["max_dz"])
        assert e["L_max_dz"][0] == pytest.approx([e["depths"][0] * v for v in e["max_dz"][0]])
    claims = results["claims"]
    # 7 paper-A claims + the Lyapunov intersection–union row × 2 damped models; paper B: the
    # depth slopes, the L·max bound, the slope gap, the decay exponent and the log-loss rate,
    # the i.i.d. smoothing fraction, the ReLU counter-example (no reference depth: no
    # convergence claim)
    assert len(claims) == 8 * 2 + 8
    assert {c["claim"] for c in claims if c["part"] == "B"} == {
        "depth_slope_ode",
        "depth_bounded_ode",
        "depth_slope_iid",
        "depth_slope_gap",
        "long_time_exponential_decay",
        "long_time_log_loss_rate",
        "iid_not_smoothed",
        "relu_smoothness_lost",
    }
    assert {c["part"] for c in claims} == {"A", "B"}
    for c in claims:
        assert c["verdict"] in VERDICTS and c["raw_verdict"] in VERDICTS
        assert c["role"] in ("primary", "secondary")
        # the adjusted verdict is never stronger than the raw one
        assert c["verdict"] in (c["raw_verdict"], "inconclusive")
        for key in ("effect", "ci", "margin", "min_detectable_effect", "n_seeds", "test"):
            assert key in c


@pytest.mark.slow
def test_tiny_stored_results_read_back_into_their_types_exactly(tiny_run: Path) -> None:
    """Every paper-A cell's and transfer task's result.json is its typed result's to_dict():
    read back and written again it is the same JSON text (same keys, order, bits)."""
    from resode.reproduce.paper_a import CELL_FN
    from resode.reproduce.runs import RunResult, TransferResult
    from resode.reproduce.transfer import TRANSFER_FN

    types = {CELL_FN: RunResult, TRANSFER_FN: TransferResult}
    seen = dict.fromkeys(types, 0)
    for path in sorted(tiny_run.rglob("result.json")):
        stored = json.loads(path.read_text())
        cls = types.get(stored["task"]["fn"])
        if cls is None:  # paper B, the fingerprint
            continue
        typed = cls.from_dict(stored["result"])
        assert json.dumps(typed.to_dict()) == json.dumps(stored["result"]), path
        assert cls.from_dict(json.loads(json.dumps(typed.to_dict()))) == typed
        seen[stored["task"]["fn"]] += 1
    results = json.loads((tiny_run / "results.json").read_text())
    pa = results["paper_a"]
    assert seen == {CELL_FN: len(pa["runs"]) + len(pa["sweep"]), TRANSFER_FN: len(pa["runs"])}
    for r in pa["runs"] + pa["sweep"]:  # results.json: the metrics, then the run as stored
        run = {k: v for k, v in r.items() if k != "metrics"}
        assert json.dumps(RunResult.from_dict(run).to_dict()) == json.dumps(run)
    assert all("transfer" in r and "checks" in r for r in pa["runs"])
    assert not any("transfer" in r or "checks" in r for r in pa["sweep"])  # never ran there


@pytest.mark.slow
def test_tiny_html_is_self_contained_and_plots_exist(tiny_run: Path) -> None:
    html = (tiny_run / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    srcs = re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<link" not in html and "<script" not in html
    md = (tiny_run / "report.md").read_text()
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert len(pngs) == len(srcs)
    for p in pngs:
        assert (tiny_run / p).is_file()
    for name in ("results.json", "claims.csv", "paper_a_runs.csv", "paper_b_depth_sweep.csv"):
        assert (tiny_run / name).is_file(), name
    assert ReproduceConfig.from_yaml(tiny_run / "reproduce_config.yaml") == get_preset("tiny")


@pytest.mark.slow
def test_tiny_folder_is_not_overwritten_without_resume(tiny_run: Path) -> None:
    code = main(["reproduce", "--preset", "tiny", "--out", str(tiny_run), "--no-progress"])
    assert code == 2


@pytest.mark.slow
def test_resume_reuses_every_finished_task(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    args = ["reproduce", "--preset", "tiny", "--out", str(copy), "--no-progress", "--resume"]
    assert main([*args, "--executor", "serial"]) == 0
    tasks = json.loads((copy / "results.json").read_text())["tasks"]
    assert tasks and all(t["reused"] for t in tasks.values())
    assert numbers(copy) == numbers(tiny_run) | {"config": numbers(copy)["config"]}


def _busy_core() -> subprocess.Popen:
    """A process that keeps one core busy until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@pytest.mark.slow
def test_same_preset_gives_the_same_numbers_on_a_busy_machine(
    tiny_run: Path, tmp_path: Path
) -> None:
    """Determinism: rerun the tiny preset in this process (serial executor) while another
    process keeps a core busy: every number of results.json equals the first run's (two worker
    processes, quiet machine). Results depend on config and seeds only."""
    busy = _busy_core()
    try:
        out = tmp_path / "again"
        args = ["reproduce", "--preset", "tiny", "--out", str(out), "--no-progress"]
        assert main([*args, "--executor", "serial"]) == 0
    finally:
        busy.kill()
        busy.wait()
    first, second = numbers(tiny_run), numbers(out)
    first["config"].pop("executor")
    second["config"].pop("executor")
    assert second == first


# ---------------------------------------------------------------------------------------------
# fast checks


def test_bad_preset_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown reproduce preset 'nope'" in err and "tiny" in err


def test_every_preset_is_a_valid_config_with_its_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from resode.presets import list_presets

    assert main(["reproduce", "--list-presets"]) == 0
    out = capsys.readouterr().out
    presets = list_presets("reproduce")
    assert {p.name for p in presets} >= {"default", "tiny", "paper-b-full", "cifar10-table1"}
    for p in presets:
        cfg = get_preset(p.name)
        assert cfg.preset == p.name
        assert out.count(f"{p.name}: ") == 1
        # every key the file sets is in effect (a typo would be a ConfigError, a silent default
        # would not): the nested values equal the file's
        for key, value in _leaves(p.config):
            got = cfg
            for part in key:
                got = getattr(got, part)
            assert got == pytest.approx(_pixels(value)), (p.name, key)


def _leaves(mapping, prefix=()):  # type: ignore[no-untyped-def]
    """(key path, value) of every value a preset sets, down the nested configs."""
    for k, v in mapping.items():
        if isinstance(v, dict):
            yield from _leaves(v, (*prefix, k))
        else:
            yield (*prefix, k), v


def _pixels(value):  # type: ignore[no-untyped-def]
    from resode.config import parse_pixels

    if isinstance(value, list):
        return [_pixels(v) for v in value]
    return parse_pixels(value) if isinstance(value, str) and "/" in value else value


def test_dotted_cli_options_reach_the_nested_config(tmp_path: Path) -> None:
    import argparse

    from resode.cli.commands import reproduce as cmd
    from resode.config import config_from_args

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd.register(sub)
    args = parser.parse_args(
        [
            "reproduce",
            *("--paper-a.robustness.eps", "4/255", "0.05"),
            *("--paper-b.depth-sweep.seeds", "4", "--threads", "1"),
        ]
    )
    base = get_preset("tiny").to_dict()
    cfg = config_from_args(ReproduceConfig, args, base=base)
    assert cfg.paper_a.robustness.eps == pytest.approx([4 / 255, 0.05])
    # the nested evaluation keeps the preset's other keys (merged over the field's default)
    assert cfg.paper_a.robustness.steps == get_preset("tiny").paper_a.robustness.steps
    assert cfg.paper_a.robustness.checks and cfg.paper_a.robustness.n_samples == 32
    assert cfg.paper_b.depth_sweep.seeds == 4
    # the nested experiment config keeps the preset's other keys
    assert cfg.paper_b.depth_sweep.iterations == get_preset("tiny").paper_b.depth_sweep.iterations
    assert cfg.paper_a.seeds == [0, 1]  # the rest of the preset is kept
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce", "--paper-a.robustness.eps", "8/0"])
    with pytest.raises(SystemExit):  # a key the job sets for every cell has no flag
        parser.parse_args(["reproduce", "--paper-a.robustness.seed", "3"])


def test_out_dir_checks(tmp_path: Path) -> None:
    cfg = get_preset("tiny")
    check_out_dir(cfg, tmp_path, resume=False)  # empty folder: fine
    cfg.to_yaml(tmp_path / "reproduce_config.yaml")
    with pytest.raises(ResodeError, match="--resume"):
        check_out_dir(cfg, tmp_path, resume=False)
    check_out_dir(cfg, tmp_path, resume=True)  # same settings: continue
    check_out_dir(cfg.replace(executor="serial", workers=3), tmp_path, resume=True)
    with pytest.raises(ResodeError, match="paper_a"):
        check_out_dir(cfg.replace(paper_a={"seeds": [5]}), tmp_path, True)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ResodeError, match="is a file"):
        check_out_dir(cfg, file, resume=False)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="seeds"):
        get_preset("tiny", paper_a={"seeds": [0, 0]})
    with pytest.raises(ConfigError, match="lambdas"):
        get_preset("tiny", sweep={"lambdas": [1.5]})
    with pytest.raises(ConfigError, match="depths"):
        get_preset("tiny", paper_b={"depth_sweep": {"depths": [8]}})
    with pytest.raises(ConfigError, match=r"paper_b\.experiments: fig9 not registered"):
        get_preset("tiny", paper_b={"experiments": ["depth_sweep", "fig9"]})
    # the keys the job sets for every cell: one line naming the job's key instead
    with pytest.raises(ConfigError, match=r"paper_b\.long_time\.seed .* use seed"):
        get_preset("tiny", paper_b={"long_time": {"seed": 3}})
    with pytest.raises(ConfigError, match=r"paper_b\.depth_sweep\.init .* use paper_b\.inits"):
        get_preset("tiny", paper_b={"depth_sweep": {"init": "iid"}})
    with pytest.raises(ConfigError, match=r"unknown key paper_a\.epoch"):
        get_preset("tiny", paper_a={"epoch": 3})
    with pytest.raises(ConfigError, match=r"unknown key paper_a\.robustness\.epss"):
        get_preset("tiny", paper_a={"robustness": {"epss": [0.1]}})
    # the keys the job sets for every cell: one line naming the job's key instead
    for key, value, instead in [("seed", 3, "seed"), ("dataset", "cifar10", "paper_a.dataset")]:
        with pytest.raises(ConfigError, match=rf"paper_a\.robustness\.{key} .* use {instead}"):
            get_preset("tiny", paper_a={"robustness": {key: value}})
    with pytest.raises(ConfigError, match=r"paper_a\.stability\.seed .* use seed"):
        get_preset("tiny", paper_a={"stability": {"seed": 1}})


def test_an_empty_attack_set_is_reported_as_no_attacks(tmp_path: Path) -> None:
    """``paper_a.robustness.attacks: []`` (noise only): the run finishes, and the adversarial
    section of the report says there are no attacks instead of failing."""
    out = tmp_path / "run"
    args = ["reproduce", "--preset", "tiny", "--out", str(out), "--no-progress", "--workers", "1"]
    args += [
        "--paper-a.robustness.attacks",
        "none",
        "--paper-a.seeds",
        "0",
        "--no-paper-a.robustness.checks",
    ]
    args += ["--no-paper-b.enabled", "--no-sweep.enabled"]
    assert main(args) == 0
    md = (out / "report.md").read_text()
    section = md.split("Paper A: adversarial attacks", 1)[1].split("\n#", 1)[0]
    assert "No attacks were declared" in section
    results = json.loads((out / "results.json").read_text())
    assert "robust_auc" not in json.dumps(results.get("claims", {}))


def _adversarial_paragraph(cfg: ReproduceConfig, tmp_path: Path) -> str:
    """The first paragraph the adversarial section's writer adds for ``cfg`` (no runs)."""
    from types import SimpleNamespace

    from resode.report import Report
    from resode.reproduce.report import ReportContext

    writer = {title: fn for title, _, fn in SECTIONS}["Paper A: adversarial attacks"]
    rep = Report("t", tmp_path)
    a = SimpleNamespace(runs=[], eps_labels=[], n_attack=0)
    writer(rep, ReportContext(cfg, tmp_path, {}, 0.0, a=a))
    return next(b.payload["text"] for b in rep.blocks if b.kind == "paragraph")


def test_the_adversarial_paragraph_orders_the_set_and_names_the_per_point_attacks(
    tmp_path: Path,
) -> None:
    """The declared set is listed weakest first (the registry's strength order, whatever order
    the config gives), and the cascade sentence names exactly the attacks the engine ran on
    every clean-correct point (``per_attack`` ∩ the declared set, AutoAttack included)."""
    robustness = {
        "attacks": ["apgd-dlr", "pgd", "apgd-ce", "fgsm"],
        "autoattack": True,
        "per_attack": ["autoattack", "pgd", "ifgsm"],  # ifgsm is not declared: it never ran
    }
    cfg = get_preset("tiny", paper_a={"robustness": robustness})
    declared = "Declared attack set (weakest first): FGSM, PGD, APGD-CE, APGD-DLR, AUTOATTACK;"
    text = _adversarial_paragraph(cfg, tmp_path)
    assert declared in text
    assert "PGD and AUTOATTACK also on every clean-correct point (their own rows)" in text
    assert "IFGSM" not in text and "FGSM, IFGSM" not in text
    # a config whose list was set after validation (not sorted by check) is still ordered
    cfg.paper_a.robustness.attacks = ["apgd-dlr", "pgd", "apgd-ce", "fgsm"]
    assert declared in _adversarial_paragraph(cfg, tmp_path)
    # one per-point attack; none; all of them; no cascade
    cfg = get_preset("tiny", paper_a={"robustness": {**robustness, "per_attack": ["apgd-ce"]}})
    assert "; APGD-CE also on every clean-correct point (its own rows)" in _adversarial_paragraph(
        cfg, tmp_path
    )
    cfg = get_preset("tiny", paper_a={"robustness": {**robustness, "per_attack": ["none"]}})
    text = _adversarial_paragraph(cfg, tmp_path)
    assert "none on every clean-correct point" in text and "own rows" not in text
    # "all" is every attack of ``attacks``: AutoAttack still only on the points left robust
    cfg = get_preset("tiny", paper_a={"robustness": {**robustness, "per_attack": ["all"]}})
    text = _adversarial_paragraph(cfg, tmp_path)
    assert "; FGSM, PGD, APGD-CE and APGD-DLR also on every clean-correct point" in text
    robustness["autoattack"] = False
    cfg = get_preset("tiny", paper_a={"robustness": {**robustness, "per_attack": ["all"]}})
    assert "each also ran on every clean-correct point" in _adversarial_paragraph(cfg, tmp_path)
    cfg = get_preset("tiny", paper_a={"robustness": {**robustness, "cascade": False}})
    text = _adversarial_paragraph(cfg, tmp_path)
    assert text.endswith("Every attack ran on every clean-correct point.")
