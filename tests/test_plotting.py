"""resode.plotting: the one pyplot (Agg) and the atomic figure writer."""

from __future__ import annotations

from pathlib import Path

from resode.plotting import pyplot, save_figure


def test_pyplot_selects_agg() -> None:
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"


def test_save_figure_writes_png_creates_folders_closes_and_leaves_no_temp(tmp_path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    target = tmp_path / "a" / "b" / "fig.png"
    out = save_figure(fig, target, dpi=50)
    assert out == target
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert fig.number not in plt.get_fignums()
    assert [p.name for p in target.parent.iterdir()] == ["fig.png"]
    # the DPI is the one given: 2 in × 50 dpi = 100 px wide (the PNG header's width field)
    assert int.from_bytes(target.read_bytes()[16:20], "big") == 100


def test_save_figure_keeps_a_constrained_layout(tmp_path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(layout="constrained")
    fig.colorbar(ax.imshow([[0.0, 1.0]]), ax=[ax])
    engine = type(fig.get_layout_engine())
    save_figure(fig, str(tmp_path / "c.png"))
    assert type(fig.get_layout_engine()) is engine
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
