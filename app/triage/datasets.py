"""Reading labelled ticket files (CSV, TSV, JSON or JSONL) whose text and label columns may have other names.

Exports come from spreadsheets and helpdesk reports as often as from ML datasets, so column names are
matched without regard to case, spaces or a byte-order mark, and a file with both a subject and a body
column is read as the worker reads a ticket: the subject, then the body.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

TEXT_COLUMNS = (
    "text", "instruction", "utterance", "message", "body", "description", "content", "query", "question",
    "sentence", "comment", "ticket", "input", "subject",
)
LABEL_COLUMNS = ("label", "intent", "category", "labels", "class", "topic", "type", "target")
SUBJECT_COLUMNS = ("subject", "title", "summary")
BODY_COLUMNS = ("body", "description", "message", "content", "text", "comment")


class DatasetError(ValueError):
    pass


@dataclass
class Labelled:
    texts: list[str]
    labels: list[str]
    rows: list[dict[str, str]]


def _normal(name: str) -> str:
    """`Ticket Subject`, `ticket_subject` and `TICKET-SUBJECT` are one name; so are `Intent` and `intent`."""
    return re.sub(r"[\s_\-]+", "_", name.strip().lstrip("\ufeff").lower())


def _find(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """The first candidate present, by exact normal name, else as the last word (`Ticket Description`)."""
    normal = {_normal(c): c for c in columns}
    for name in candidates:
        if name in normal:
            return normal[name]
    for name in candidates:
        for key, column in normal.items():
            if key.endswith("_" + name):
                return column
    return None


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: Path) -> str:
    if wanted:
        found = wanted if wanted in columns else _find(columns, (_normal(wanted),))
        if found is None:
            raise DatasetError(f"{path}: no column {wanted!r} (columns: {', '.join(columns)})")
        return found
    found = _find(columns, candidates)
    if found is None:
        raise DatasetError(
            f"{path}: cannot tell which column is the {what}; pass --{what}-col (columns: {', '.join(columns)})"
        )
    return found


def _where(rows: list[dict[str, str]], where: str | None) -> list[dict[str, str]]:
    """`col=value[,col2=value2]`: keep rows matching every condition (e.g. `lang=en,split=valid`)."""
    if not where:
        return rows
    conditions = [c.split("=", 1) for c in where.split(",") if "=" in c]
    return [r for r in rows if all(str(r.get(k, "")) == v for k, v in conditions)]


def _rows(file: Path) -> list[dict[str, str]]:
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        text = file.read_text(encoding="utf-8-sig")
        try:
            if suffix == ".json":
                loaded = json.loads(text)
                records = loaded if isinstance(loaded, list) else [loaded]
            else:
                records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{file}: not valid JSON ({exc})") from None
        if not all(isinstance(r, dict) for r in records):
            raise DatasetError(f"{file}: expected one JSON object per row")
        return [{k: "" if v is None else str(v) for k, v in r.items()} for r in records]
    with file.open(encoding="utf-8-sig", newline="") as f:
        sample = f.read(64 * 1024)
        f.seek(0)
        delimiter = "\t" if suffix == ".tsv" or sample.split("\n", 1)[0].count("\t") > sample.split("\n", 1)[0].count(",") else ","
        return [{(k or ""): (v or "") for k, v in r.items()} for r in csv.DictReader(f, delimiter=delimiter)]


def read_labelled(
    path: str | Path, text_col: str | None = None, label_col: str | None = None, where: str | None = None
) -> Labelled:
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"{file}: no such file")
    rows = _rows(file)
    if not rows:
        raise DatasetError(f"{file}: no rows")
    columns = list(rows[0].keys())
    text_names = [_pick(columns, text_col, TEXT_COLUMNS, "text", file)]
    label_name = _pick(columns, label_col, LABEL_COLUMNS, "label", file)
    if not text_col:
        subject = _find(columns, SUBJECT_COLUMNS)
        body = _find([c for c in columns if c != subject], BODY_COLUMNS)
        if subject and body:  # how the worker reads a ticket: subject, then the description
            text_names = [subject, body]
    kept, texts = [], []
    for r in _where(rows, where):
        text = "\n".join(part for part in ((r.get(n) or "").strip() for n in text_names) if part)
        if text and (r.get(label_name) or "").strip():
            kept.append(r)
            texts.append(text)
    if not kept:
        raise DatasetError(f"{file}: no labelled rows left after filtering")
    return Labelled(texts, [r[label_name].strip() for r in kept], kept)
