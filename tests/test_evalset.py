"""One evaluation set: the same seed selects the same test images in ``robustness``,
``stability``, ``landscape`` and ``reproduce``, and smaller subsets are prefixes of larger ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import resode
from resode.cli import main
from resode.evalset import load_evalset, subset_indices


def test_subsets_of_one_seed_are_nested_and_seeds_differ() -> None:
    full = subset_indices(359, None, seed=3)
    assert sorted(full.tolist()) == list(range(359))  # a permutation of every image
    for n in (1, 16, 100):
        assert torch.equal(subset_indices(359, n, seed=3), full[:n])
    assert not torch.equal(subset_indices(359, 16, seed=4), full[:16])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    torch.manual_seed(0)
    model = resode.create_model("resnet20", num_classes=10, in_channels=1, image_size=8)
    path = tmp_path_factory.mktemp("evalset") / "r20" / "last.pt"
    resode.save_checkpoint(path, model, config={"dataset": "digits", "image_size": 8})
    return str(path)


def test_every_command_looks_at_the_same_images(ckpt: str, tmp_path: Path) -> None:
    from resode.reproduce import get_preset
    from resode.reproduce.paper_a import _evalset_params

    seed, n = 5, 12
    common = ["--seed", str(seed), "--n-samples", str(n), "--no-progress"]
    assert (
        main(
            [
                "robustness",
                ckpt,
                "--out",
                str(tmp_path / "rob"),
                *common,
                "--attacks",
                "fgsm",
                "--corruptions",
                "none",
                "--eps",
                "8/255",
            ]
        )
        == 0
    )
    rob = json.loads((tmp_path / "rob" / "results.json").read_text())["indices"]
    assert (
        main(["stability", ckpt, "--out", str(tmp_path / "st"), *common, "--power-iters", "1"]) == 0
    )
    st = json.loads((tmp_path / "st" / "stability.json").read_text())
    assert (
        main(
            [
                "landscape",
                ckpt,
                "--out",
                str(tmp_path / "la"),
                *common,
                "--grid",
                "3",
                "--space",
                "input",
            ]
        )
        == 0
    )
    la = json.loads((tmp_path / "la" / "landscape.json").read_text())
    cfg = get_preset("tiny", seed=seed, paper_a={"robustness": {"n_samples": 32}, "image_size": 8})
    rep = load_evalset(**_evalset_params(cfg)).indices
    assert rob == st["models"][0]["extra"]["indices"] == la["models"][0]["config"]["indices"]
    assert rep[:n] == rob  # reproduce evaluates 32 images: its first 12 are these
    assert len(set(rob)) == n
