"""``resode reproduce``: the tiny preset end to end, report structure, verdict logic, CLI errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from resode.cli import main
from resode.errors import ResodeError
from resode.reproduce import (
    PRESETS,
    SECTIONS,
    VERDICTS,
    ReproduceConfig,
    _check_resume,
    comparable_verdict,
    compare,
    describe_presets,
    get_preset,
    improvement_verdict,
    mean_std,
)

# ---------------------------------------------------------------------------------------------
# the tiny preset, run once for the module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reproduce") / "run"
    code = main(["reproduce", "--preset", "tiny", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


@pytest.mark.slow
def test_tiny_report_has_every_section_in_order(tiny_run: Path) -> None:
    md = (tiny_run / "report.md").read_text()
    headings = [m.group(1).strip() for m in re.finditer(r"^#{2,3} (.+)$", md, flags=re.M)]
    assert headings == list(SECTIONS)
    html = (tiny_run / "report.html").read_text()
    for section in SECTIONS:
        assert f">{section}</h" in html.replace("&amp;", "&")


@pytest.mark.slow
def test_tiny_results_hold_every_model_and_seed(tiny_run: Path) -> None:
    cfg = get_preset("tiny")
    results = json.loads((tiny_run / "results.json").read_text())
    assert results["config"] == cfg.to_dict()
    runs = results["paper_a"]["runs"]
    assert sorted((r["model"], r["seed"]) for r in runs) == sorted(
        (m, s) for m in cfg.models for s in cfg.seeds
    )
    for r in runs:
        assert 0.0 <= r["clean"] <= 1.0
        assert set(r["corruptions"]) == set(cfg.corruptions)
        for accs in r["corruptions"].values():
            assert set(accs) == {*map(str, cfg.severities), "pooled"}
            # pooled = mean over the severities (same number of images at each)
            sev = [accs[str(s)] for s in cfg.severities]
            assert accs["pooled"] == pytest.approx(sum(sev) / len(sev))
        assert set(r["attacks"]) == set(cfg.attacks)
        for lev, rob in r["robust"].items():  # worst case ≤ every attack and ≤ clean
            assert rob <= min(r["attacks"][a][lev] for a in cfg.attacks) + 1e-12
            assert rob <= r["clean_attack_subset"] + 1e-12
        assert Path(r["checkpoint"]).is_file()
        assert r["train_config"]["seed"] == r["seed"]
    # summary mean/std agree with the per-seed values
    summary = results["paper_a"]["summary"]
    for m in cfg.models:
        vals = [r["clean"] for r in runs if r["model"] == m]
        assert summary[m]["clean"]["mean"] == pytest.approx(mean_std(vals)[0])
        assert summary[m]["clean"]["std"] == pytest.approx(mean_std(vals)[1])
    # the damped models carry λ, the ResNet does not
    assert set(results["paper_a"]["lambdas"]) == {"inresnet20", "lambda_inresnet20"}
    assert sorted(r["lam"] for r in results["lambda_sweep"]["rows"]) == sorted(cfg.sweep_lambdas)
    sweep = results["paper_b"]["sweep"]
    assert set(sweep) == set(cfg.b_inits)
    for e in sweep.values():
        assert e["depths"] == sorted(cfg.b_depths)
        assert all(len(v) == cfg.b_seeds for v in e["max_dz"])
    claims = results["claims"]
    assert len(claims) == 8
    assert all(c["verdict"] in VERDICTS for c in claims)


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
    for name in (
        "results.json",
        "claims.csv",
        "paper_a_summary.csv",
        "paper_a_runs.csv",
        "paper_b_depth_sweep.csv",
        "reproduce_config.yaml",
    ):
        assert (tiny_run / name).is_file(), name
    # the recorded config round-trips to the preset
    assert ReproduceConfig.from_yaml(tiny_run / "reproduce_config.yaml") == get_preset("tiny")


@pytest.mark.slow
def test_tiny_folder_is_not_overwritten_without_resume(tiny_run: Path) -> None:
    code = main(["reproduce", "--preset", "tiny", "--out", str(tiny_run), "--no-progress"])
    assert code == 2


# ---------------------------------------------------------------------------------------------
# fast checks


def test_bad_preset_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown preset 'nope'" in err and "tiny" in err


def test_list_presets_and_describe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--list-presets"]) == 0
    out = capsys.readouterr().out
    described = describe_presets()
    assert [d["name"] for d in described] == list(PRESETS)
    for d in described:
        assert d["name"] in out and d["expected_wall_time"] and d["compare_with"]
        get_preset(d["name"])  # every preset is a valid config
    full = {d["name"]: d for d in described}
    assert "93.57" in full["cifar10-paper-a"]["compare_with"]  # papers.md, He et al. ResNet-110
    assert "85.7" in full["cifar10-table1"]["compare_with"]  # papers.md Table 1, GELU i.i.d.


def test_compare_counts_only_differences_beyond_two_standard_errors() -> None:
    a, b = [0.90, 0.92, 0.91], [0.80, 0.81, 0.79]
    c = compare(a, b)
    se = (mean_std(a)[1] ** 2 / 3 + mean_std(b)[1] ** 2 / 3) ** 0.5
    assert c["diff"] == pytest.approx(0.11) and c["se"] == pytest.approx(se)
    assert c["outcome"] == "better"
    assert compare(b, a)["outcome"] == "worse"
    assert compare(b, a, higher_is_better=False)["outcome"] == "better"
    # overlapping spreads: a tie
    assert compare([0.90, 0.80, 0.85], [0.86, 0.84, 0.85])["outcome"] == "tie"
    # a single seed falls back to the binomial standard error √(p(1−p)/n)
    one = compare([0.95], [0.8], n_eval=100)
    assert one["se"] == pytest.approx((0.95 * 0.05 / 100 + 0.8 * 0.2 / 100) ** 0.5)
    assert one["outcome"] == "better"
    assert compare([0.82], [0.80], n_eval=100)["outcome"] == "tie"


def test_verdict_rules() -> None:
    assert improvement_verdict(["better", "better"]) == "reproduced"
    assert improvement_verdict(["better", "tie"]) == "mixed"
    assert improvement_verdict(["tie", "worse"]) == "not reproduced"
    tie = {"outcome": "tie", "diff": -0.02}
    worse = {"outcome": "worse", "diff": -0.05}
    slightly = {"outcome": "worse", "diff": -0.005}  # significant but under 1 point
    assert comparable_verdict([tie, slightly]) == "reproduced"
    assert comparable_verdict([tie, worse]) == "mixed"
    assert comparable_verdict([worse, worse]) == "not reproduced"


def test_resume_checks(tmp_path: Path) -> None:
    cfg = get_preset("tiny")
    _check_resume(cfg, tmp_path, resume=False)  # empty folder: fine
    cfg.to_yaml(tmp_path / "reproduce_config.yaml")
    with pytest.raises(ResodeError, match="--resume"):
        _check_resume(cfg, tmp_path, resume=False)
    _check_resume(cfg, tmp_path, resume=True)  # same settings: continue
    with pytest.raises(ResodeError, match="epochs"):
        _check_resume(cfg.replace(epochs=2), tmp_path, resume=True)


def test_config_validation() -> None:
    from resode.errors import ConfigError

    with pytest.raises(ConfigError, match="seeds"):
        get_preset("tiny", seeds=[0, 0])
    with pytest.raises(ConfigError, match="sweep_lambdas"):
        get_preset("tiny", sweep_lambdas=[1.5])
    with pytest.raises(ConfigError, match="b_depths"):
        get_preset("tiny", b_depths=[8])
