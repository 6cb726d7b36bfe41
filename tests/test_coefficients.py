"""Learned λ per block and its training trajectory; ``resode lambdas`` end to end."""

from __future__ import annotations

import json

import pytest
import torch

import resode
from resode.analysis.coefficients import (
    lambda_report,
    lambda_trajectory,
    load_history,
    model_lambdas,
)
from resode.cli import main
from resode.errors import ResodeError


def history(epochs: int = 3) -> list[dict]:
    return [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "lambdas": {
                "blocks.1": [0.2 + 0.01 * e],
                "blocks.10": [0.1 * e, 0.3 * e],  # per-channel values: mean is used
                **({"blocks.2": [0.5]} if e > 1 else {}),
            },
        }
        for e in range(1, epochs + 1)
    ]


def test_trajectory_means_order_and_missing_blocks() -> None:
    traj = lambda_trajectory([{"epoch": 0, "train_loss": 1.0}, *history()])  # no λ: skipped
    assert traj.epochs == [1.0, 2.0, 3.0]
    assert traj.blocks == ["blocks.1", "blocks.2", "blocks.10"]  # numeric block order
    assert traj.values["blocks.1"] == pytest.approx([0.21, 0.22, 0.23])
    assert traj.values["blocks.10"] == pytest.approx([0.2, 0.4, 0.6])
    assert traj.values["blocks.2"] == [None, 0.5, 0.5]


def test_load_history_sources(tmp_path) -> None:
    h = history()
    assert load_history({"history": h}) == h
    assert load_history({"state_dict": {}}) == []
    (tmp_path / "a.json").write_text(json.dumps(h))
    (tmp_path / "b.json").write_text(json.dumps({"history": h}))
    assert load_history(tmp_path / "a.json") == h
    assert load_history(tmp_path / "b.json") == h
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResodeError, match="not valid JSON"):
        load_history(tmp_path / "bad.json")
    with pytest.raises(ResodeError, match="does not exist"):
        load_history(tmp_path / "missing.json")


def test_model_lambdas_of_inresnet_and_resnet() -> None:
    torch.manual_seed(0)
    model = resode.create_model("inresnet20", num_classes=10, in_channels=1, image_size=8)
    lams = model_lambdas(model)
    direct = model.interpolation_coefficients()
    assert list(lams) == sorted(direct, key=lambda k: int(k.split(".")[1]))
    for k, v in lams.items():
        assert v == pytest.approx(direct[k].flatten().tolist())
        assert all(0.2 - 1e-6 <= x <= 0.25 + 1e-6 for x in v)  # paper init λ₀ ∈ [0.20, 0.25]
    plain = resode.create_model("resnet20", num_classes=10, in_channels=1, image_size=8)
    assert model_lambdas(plain) == {}


def test_lambda_report_from_checkpoint_history(tmp_path) -> None:
    torch.manual_seed(0)
    model = resode.create_model("inresnet20", num_classes=10, in_channels=1, image_size=8)
    path = resode.save_checkpoint(tmp_path / "m.pt", model, config=None, history=history())
    rep = lambda_report(path)
    assert rep.model == "inresnet20" and rep.n_blocks == len(model.blocks)
    assert len(rep.trajectory) == 3
    assert rep.mean_lambdas() == pytest.approx(
        {k: float(v.mean()) for k, v in model.interpolation_coefficients().items()}
    )
    rows = rep.rows()
    assert sum(r["epoch"] == "final" for r in rows) == len(rep.lambdas)


def test_cli_lambdas_end_to_end(tmp_path) -> None:
    torch.manual_seed(0)
    damped = resode.create_model("inresnet20", num_classes=10, in_channels=1, image_size=8)
    plain = resode.create_model("resnet20", num_classes=10, in_channels=1, image_size=8)
    a = resode.save_checkpoint(tmp_path / "in.pt", damped, config=None, history=history())
    b = resode.save_checkpoint(tmp_path / "r.pt", plain, config=None)
    out = tmp_path / "out"
    assert main(["lambdas", str(a), str(b), "--out", str(out)]) == 0
    for name in ("lambdas.png", "lambda_trajectory.png", "lambdas.json", "lambdas.csv"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "lambdas.json").read_text())
    assert [m["model"] for m in data["models"]] == ["in", "r"]  # labels: the file names
    assert data["models"][1]["lambdas"] == {}
    assert "no damped blocks" in (out / "lambdas.md").read_text()
    # one history per checkpoint, else a one-line user error (exit code 2)
    assert main(["lambdas", str(a), str(b), "--out", str(out), "--history", "x.json"]) == 2
