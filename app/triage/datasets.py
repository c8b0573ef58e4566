"""Reading labelled ticket files (CSV or JSONL) whose text and label columns may have other names."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

TEXT_COLUMNS = ("text", "instruction", "utterance", "message", "body", "description", "subject")
LABEL_COLUMNS = ("label", "intent", "category", "labels")


class DatasetError(ValueError):
    pass


@dataclass
class Labelled:
    texts: list[str]
    labels: list[str]
    rows: list[dict[str, str]]


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: Path) -> str:
    if wanted:
        if wanted not in columns:
            raise DatasetError(f"{path}: no column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise DatasetError(
        f"{path}: cannot tell which column is the {what}; pass --{what}-col (columns: {', '.join(columns)})"
    )


def _where(rows: list[dict[str, str]], where: str | None) -> list[dict[str, str]]:
    """`col=value[,col2=value2]`: keep rows matching every condition (e.g. `lang=en,split=valid`)."""
    if not where:
        return rows
    conditions = [c.split("=", 1) for c in where.split(",") if "=" in c]
    return [r for r in rows if all(str(r.get(k, "")) == v for k, v in conditions)]


def read_labelled(
    path: str | Path, text_col: str | None = None, label_col: str | None = None, where: str | None = None
) -> Labelled:
    file = Path(path)
    if file.suffix.lower() in (".jsonl", ".ndjson"):
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]
    else:
        with file.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    if not rows:
        raise DatasetError(f"{file}: no rows")
    columns = list(rows[0].keys())
    text_name = _pick(columns, text_col, TEXT_COLUMNS, "text", file)
    label_name = _pick(columns, label_col, LABEL_COLUMNS, "label", file)
    rows = [
        r
        for r in _where(rows, where)
        if (r.get(text_name) or "").strip() and (r.get(label_name) or "").strip()
    ]
    if not rows:
        raise DatasetError(f"{file}: no labelled rows left after filtering")
    return Labelled([r[text_name] for r in rows], [r[label_name].strip() for r in rows], rows)
