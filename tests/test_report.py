"""resode.report: Markdown and self-contained HTML from one structure."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resode.report import Report, format_value, write_csv, write_json


def _png(path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_report_renders_every_block_and_embeds_images(tmp_path: Path) -> None:
    rep = Report("Title <&>", tmp_path)
    rep.heading("Numbers")
    rep.paragraph("Accuracy is **high** with `code`.")
    rep.table([{"model": "resnet20", "acc": 0.91234567}, {"model": "inresnet20", "acc": 0.5}])
    png = _png(tmp_path / "plot.png")
    rep.figure(png, "a plot")
    rep.claim("damping helps", "contradicted", "0.5 < 0.91")
    md, htm = rep.write()
    text = md.read_text()
    assert "| model | acc |" in text and "| resnet20 | 0.9123 |" in text
    assert "![a plot](plot.png)" in text and "**CONTRADICTED**" in text
    page = htm.read_text()
    assert "Title &lt;&amp;&gt;" in page and "<b>high</b>" in page
    # self-contained: the image bytes are inside the page, and nothing points outside it
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data) == png.read_bytes()
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    assert "http://" not in page and "https://" not in page
    assert rep.sections() == ["Numbers"]


def test_format_and_files(tmp_path: Path) -> None:
    assert format_value(0.5) == "0.5" and format_value(3) == "3" and format_value(1e-5) == "1e-05"
    assert format_value(float("nan")) == "nan" and format_value(None) == ""
    write_json(tmp_path / "a.json", {"x": [1.5]})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": [1.5]}
    write_csv(tmp_path / "a.csv", [{"a": 1}, {"a": 2, "b": 3}])
    assert (tmp_path / "a.csv").read_text().splitlines() == ["a,b", "1,", "2,3"]
