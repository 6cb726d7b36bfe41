"""The README's numbers are generated from committed result files, and its Python tour runs."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "readme_numbers", ROOT / "scripts/readme_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_every_numbers_block_is_what_its_result_file_gives() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"<!-- numbers:([\w-]+) -->", text)
    assert set(blocks) == {"demo", "paper-b-full", "benchmarks", "gpu", "replication", "powered"}
    assert _script().render(text) == text, "run: python scripts/readme_numbers.py render"


def test_render_replaces_a_stale_number() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- numbers:demo -->") + len("<!-- numbers:demo -->\n")
    stale = text[:start] + "| a stale number 99.99 |\n" + text[start:]
    assert _script().render(stale) == text


def test_the_python_tour_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## A tour of the Python API\n\n```python\n(.*?)```", text, re.S).group(1)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "runs/api-in20/last.pt").is_file()
    assert scope["x_adv"].shape == scope["x"].shape


@pytest.mark.parametrize("name", ["docs/architecture.md", "docs/testing.md"])
def test_linked_documents_exist(name: str) -> None:
    assert name in (ROOT / "README.md").read_text() and (ROOT / name).is_file()
