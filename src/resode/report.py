"""Readable reports: one structure rendered as Markdown and as a self-contained HTML page.

Images are embedded in the HTML as base64 data URIs and the page has no external URL, so
``report.html`` opens offline and can be mailed as one file. The Markdown links the PNG files
next to it.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:0.9em;color:#555}
.claim{padding:6px 10px;margin:6px 0;border-left:5px solid #999;background:#fafafa}
.reproduced{border-color:#2a9d2a}.contradicted{border-color:#c0392b}
.inconclusive{border-color:#d4a017}.missing{border-color:#777}
code,pre{background:#f4f4f4;padding:1px 4px}pre{padding:8px;overflow-x:auto}
"""


_VERDICT_CLASSES = ("reproduced", "contradicted", "inconclusive")


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for one value; NaN for none) of the finite
    values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))


def fmt_pct(m: float | None, s: float | None = None) -> str:
    """An accuracy (fraction) in percent with two decimals: ``98.51`` or ``98.51 ± 0.32``."""
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "–"
    if s is None or math.isnan(s):
        return f"{100 * m:.2f}"
    return f"{100 * m:.2f} ± {100 * s:.2f}"


def fmt_num(m: float | None, s: float | None = None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, optionally ``± s``."""
    if m is None or math.isnan(m):
        return "–"
    if s is None or math.isnan(s):
        return f"{m:.{digits}g}"
    return f"{m:.{digits}g} ± {s:.2g}"


def fmt_mean_std(values: Sequence[float], *, pct: bool = False, digits: int = 3) -> str:
    """``mean ± std`` of ``values`` as a percentage or a number."""
    m, s = mean_std(values)
    return fmt_pct(m, s) if pct else fmt_num(m, s, digits)


def markdown_escape(text: str) -> str:
    """``text`` safe inside a Markdown table cell: no ``|`` column break, no line break, no raw
    HTML tag (user strings such as ``--labels`` go through here)."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> str:
    """A GitHub Markdown table (floats with ``digits`` significant digits, None as –)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return "–" if v is None else markdown_escape(str(v))

    lines = ["| " + " | ".join(map(markdown_escape, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def format_value(value: Any, digits: int = 4) -> str:
    """Numbers to short strings; everything else through ``str``."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return (
            f"{value:.{digits}g}"
            if abs(value) < 1e-3 or abs(value) >= 1e4
            else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        )
    return str(value)


@dataclass
class _Block:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class Report:
    """Collect headings, paragraphs, tables, figures and claim verdicts; write .md and .html."""

    def __init__(self, title: str, out_dir: str | Path) -> None:
        self.title = title
        self.out_dir = Path(out_dir)
        self.blocks: list[_Block] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(_Block("heading", {"text": text, "level": level}))

    def paragraph(self, text: str) -> None:
        self.blocks.append(_Block("paragraph", {"text": text}))

    def code(self, text: str) -> None:
        self.blocks.append(_Block("code", {"text": text}))

    def table(
        self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, digits: int = 4
    ) -> None:
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        body = [[format_value(r.get(c), digits) for c in cols] for r in rows]
        self.blocks.append(_Block("table", {"columns": cols, "rows": body}))

    def figure(self, path: str | Path, caption: str = "") -> None:
        self.blocks.append(_Block("figure", {"path": Path(path), "caption": caption}))

    def claim(self, claim: str, verdict: str, evidence: str) -> None:
        """A paper claim, its verdict (computed by :mod:`resode.verdicts`) and the numbers."""
        self.blocks.append(
            _Block("claim", {"claim": claim, "verdict": verdict, "evidence": evidence})
        )

    def sections(self) -> list[str]:
        return [b.payload["text"] for b in self.blocks if b.kind == "heading"]

    # ---- rendering -------------------------------------------------------------------------
    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for b in self.blocks:
            p = b.payload
            if b.kind == "heading":
                lines += ["#" * p["level"] + " " + p["text"], ""]
            elif b.kind == "paragraph":
                lines += [p["text"], ""]
            elif b.kind == "code":
                lines += ["```", p["text"], "```", ""]
            elif b.kind == "table":
                lines.append("| " + " | ".join(p["columns"]) + " |")
                lines.append("|" + "|".join("---" for _ in p["columns"]) + "|")
                lines += ["| " + " | ".join(r) + " |" for r in p["rows"]]
                lines.append("")
            elif b.kind == "figure":
                rel = _relative(p["path"], self.out_dir)
                lines += [f"![{p['caption']}]({rel})", "", f"*{p['caption']}*", ""]
            elif b.kind == "claim":
                lines += [f"- **{p['verdict'].upper()}**: {p['claim']} — {p['evidence']}", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_html(self) -> str:
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for b in self.blocks:
            p = b.payload
            if b.kind == "heading":
                level = min(6, p["level"])
                parts.append(f"<h{level}>{esc(p['text'])}</h{level}>")
            elif b.kind == "paragraph":
                parts.append(f"<p>{_inline(p['text'])}</p>")
            elif b.kind == "code":
                parts.append(f"<pre>{esc(p['text'])}</pre>")
            elif b.kind == "table":
                head = "".join(f"<th>{esc(c)}</th>" for c in p["columns"])
                body = "".join(
                    "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in p["rows"]
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif b.kind == "figure":
                data = base64.b64encode(Path(p["path"]).read_bytes()).decode("ascii")
                parts.append(
                    f'<figure><img alt="{esc(p["caption"])}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(p['caption'])}</figcaption></figure>"
                )
            elif b.kind == "claim":
                cls = p["verdict"] if p["verdict"] in _VERDICT_CLASSES else "missing"
                parts.append(
                    f'<div class="claim {cls}"><b>{esc(p["verdict"].upper())}</b>: '
                    f"{_inline(p['claim'])}<br><small>{_inline(p['evidence'])}</small></div>"
                )
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, stem: str = "report") -> tuple[Path, Path]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        md = self.out_dir / f"{stem}.md"
        htm = self.out_dir / f"{stem}.html"
        from resode.checkpoint import atomic_write_text

        atomic_write_text(md, self.to_markdown())
        atomic_write_text(htm, self.to_html())
        return md, htm


def _relative(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _inline(text: str) -> str:
    """Escape HTML, then render ``code`` spans and **bold** from the Markdown subset we use."""
    import re

    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def prepare_out_dir(path: str | Path, outputs: Sequence[str] = (), *, what: str = "report") -> Path:
    """Check and create an output folder before any work is done, so a bad ``--out`` fails at
    once with one line and nothing is half-written: a path that is a file, a folder that cannot be
    created, or a folder already holding ``outputs`` of an earlier run (never overwritten)."""
    from resode.errors import ResodeError

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ResodeError(f"--out {str(out)!r} is a file, not a folder; choose a folder")
    done = [name for name in outputs if (out / name).exists()]
    if done:
        raise ResodeError(
            f"--out {str(out)!r} already holds a {what} ({done[0]}); choose another folder or "
            "delete the old one"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResodeError(
            f"cannot create --out {str(out)!r} ({exc.strerror or type(exc).__name__}); "
            "choose a folder you can write to"
        ) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise ResodeError(f"--out {str(out)!r} is not writable; choose a folder you can write to")
    return out


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (tensors and arrays become lists, NumPy scalars numbers,
    anything else its ``str``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from resode.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default))
    return path


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Rows of dicts to CSV; columns are the union of keys in first-seen order."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    import io

    from resode.checkpoint import atomic_write_text

    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=cols)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return path


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np
        import torch

        if isinstance(obj, torch.Tensor):
            return obj.tolist()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)  # paths, dtypes, enums: their readable form
