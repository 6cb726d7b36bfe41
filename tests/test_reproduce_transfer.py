"""Paper A's transfer attacks inside ``resode reproduce``: the second wave of tasks
``paper_a/transfer/<model>-seed<s>`` (surrogates: every other model of the same seed), their
digests, resume, and a transfer that beats the white-box worst case voiding the verdict."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from resode.cli import main
from resode.errors import ResodeError
from resode.reproduce import get_preset, paper_a, transfer


def _tiny():
    return get_preset("tiny")


def test_every_run_gets_the_other_models_of_its_seed_as_surrogates():
    cfg = _tiny()
    cells = paper_a.tasks(cfg)
    wave = transfer.transfer_tasks(cfg, cells)
    pa = cfg.paper_a
    assert {t.key for t in wave} == {
        f"paper_a/transfer/{m}-seed{s}" for m in pa.models for s in pa.seeds
    }
    by_key = {t.key: t for t in cells}
    for t in wave:
        target = t.params["target"]
        assert [r["model"] for r in t.params["surrogates"]] == [
            m for m in pa.models if m != target["model"]
        ]
        for ref in [target, *t.params["surrogates"]]:  # the same seed, the cells' own digests
            cell = by_key[ref["key"]]
            assert cell.params["seed"] == t.params["seed"] and ref["digest"] == cell.digest()
    # a cell recomputed under other settings recomputes its transfer tasks
    longer = cfg.replace(paper_a={"training": {"epochs": 2}})
    again = {t.key: t.digest() for t in transfer.transfer_tasks(longer, paper_a.tasks(longer))}
    assert all(again[t.key] != t.digest() for t in wave)
    # no checks, or one model: no transfer phase
    off = cfg.replace(paper_a={"robustness": {"checks": False}})
    assert transfer.transfer_tasks(off, paper_a.tasks(off)) == []
    one = dataclasses.replace(cfg, paper_a=dataclasses.replace(pa, models=["resnet20"]))
    assert transfer.transfer_tasks(one, paper_a.tasks(one)) == []


def test_a_transfer_below_the_white_box_worst_case_is_a_red_flag():
    (ok, bad) = transfer.transfer_checks(
        {"resnet20": {"4/255": 0.5, "8/255": 0.25}, "inresnet20": {"4/255": 0.5, "8/255": 0.0}},
        {"4/255": 0.5, "8/255": 0.125},
    )
    assert ok.passed and ok.numbers == {
        "transfer@4/255": 0.5,
        "white_box@4/255": 0.5,
        "transfer@8/255": 0.25,
        "white_box@8/255": 0.125,
    }
    assert not bad.passed and "ε = 8/255: 0.0 % < 12.5 %" in bad.reason
    assert bad.name == "transfer-inresnet20" and "In-ResNet-20" in bad.reason


@pytest.mark.slow
def test_the_transfer_wave_ran_for_every_run_and_the_report_shows_it(tiny_local_run: Path):
    cfg = _tiny()
    res = json.loads((tiny_local_run / "results.json").read_text())
    keys = {k for k in res["tasks"] if k.startswith(transfer.TRANSFER_PREFIX)}
    assert keys == {
        transfer.transfer_key(m, s) for m in cfg.paper_a.models for s in cfg.paper_a.seeds
    }
    report = (tiny_local_run / "report.md").read_text()
    for run in res["paper_a"]["runs"]:
        rob = run["robustness"]
        others = [m for m in cfg.paper_a.models if m != run["model"]]
        assert list(run["transfer"]) == others
        for accs in run["transfer"].values():
            assert list(accs) == list(rob["robust"])  # every ε of the white-box table
            # early stopping keeps a misclassified clean image: never above the clean accuracy
            assert all(0 <= a <= rob["clean_attack_subset"] for a in accs.values())
        names = [c["name"] for c in run["checks"]]
        assert [f"transfer-{m}" for m in others] == [n for n in names if n.startswith("transfer")]
        for c in run["checks"]:
            if c["name"].startswith("transfer-"):
                assert c["passed"] == all(
                    c["numbers"][f"transfer@{lev}"] >= c["numbers"][f"white_box@{lev}"]
                    for lev in rob["robust"]
                )
                assert c["reason"] in report  # each transfer check, with its numbers, reported
        assert (tiny_local_run / transfer.transfer_key(run["model"], run["seed"])).is_dir()


@pytest.mark.slow
def test_a_forced_red_flag_turns_the_verdict_inconclusive_on_resume(
    tiny_local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_local_run, copy)
    # pretend the white-box attacks failed on In-ResNet-20 seed 0 (robust accuracy 100 % at every
    # ε, as a masked model would show): the stored transfer accuracies now beat it
    path = copy / "paper_a" / "inresnet20-seed0" / "result.json"
    stored = json.loads(path.read_text())
    robust = stored["result"]["robustness"]["robust"]
    stored["result"]["robustness"]["robust"] = dict.fromkeys(robust, 1.0)
    path.write_text(json.dumps(stored))
    tr = json.loads((copy / transfer.transfer_key("inresnet20", 0) / "result.json").read_text())
    assert min(min(a.values()) for a in tr["result"]["transfer"].values()) < 1.0
    args = ["reproduce", "--preset", "tiny", "--out", str(copy), "--no-progress", "--resume"]
    assert main([*args, "--executor", "serial"]) == 0
    out = capsys.readouterr().out
    res = json.loads((copy / "results.json").read_text())
    assert res["tasks"] and all(t["reused"] for t in res["tasks"].values())  # nothing reran
    (claim,) = [
        c for c in res["claims"] if c["claim"] == "robust_auc" and c["model"] == "inresnet20"
    ]
    assert claim["verdict"] == claim["raw_verdict"] == "inconclusive"
    assert (
        "In-ResNet-20 seed 0: transfer-resnet20: transfer from ResNet-20 beats" in claim["reason"]
    )
    assert "transfer from ResNet-20 beats the white-box worst case" in out  # printed
    assert "transfer from ResNet-20 beats" in (copy / "report.md").read_text()


def test_a_transfer_task_refuses_a_cell_of_other_settings(tmp_path: Path):
    cfg = _tiny()
    (task,) = [
        t
        for t in transfer.transfer_tasks(cfg, paper_a.tasks(cfg))
        if t.key.endswith("resnet20-seed0") and "inres" not in t.key
    ]
    folder = tmp_path / task.key
    folder.mkdir(parents=True)
    with pytest.raises(ResodeError, match="holds no result"):
        transfer.run_transfer(task.params, folder)
    cell = tmp_path / task.params["target"]["key"]
    cell.mkdir(parents=True, exist_ok=True)
    (cell / "result.json").write_text(json.dumps({"digest": "other", "result": {}}))
    with pytest.raises(ResodeError, match="other settings"):
        transfer.run_transfer(task.params, folder)


def test_seed_stacked_groups_get_transfer_tasks_per_seed():
    cfg = _tiny()
    grouped = dataclasses.replace(cfg, paper_a=dataclasses.replace(cfg.paper_a, seed_batch=2))
    wave = transfer.transfer_tasks(grouped, paper_a.tasks(grouped))
    pa = grouped.paper_a
    assert {t.key for t in wave} == {
        transfer.transfer_key(m, s) for m in pa.models for s in pa.seeds
    }
    for t in wave:  # every reference names its seed inside the group's folder
        assert all(
            r["seed"] == t.params["seed"] for r in [t.params["target"], *t.params["surrogates"]]
        )
        assert (
            t.params["target"]["key"].startswith("paper_a/")
            and "-seeds" in t.params["target"]["key"]
        )
