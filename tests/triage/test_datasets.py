"""Labelled files as admins export them: other column names, a BOM, tabs, JSON, subject + description."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.triage.datasets import DatasetError, read_labelled


def test_a_spreadsheet_export_reads_subject_then_description(tmp_path: Path) -> None:
    # Excel writes a byte-order mark; helpdesk reports name columns "Ticket Subject", "Ticket Type".
    path = tmp_path / "tickets.csv"
    path.write_text(
        "\ufeffTicket ID,Ticket Subject,Ticket Description,Ticket Type\n"
        '1,Refund please,"I was charged twice, please refund",Billing\n'
        "2,,Cannot log in since the update,Technical\n"
        "3,No label here,some text,\n",
        encoding="utf-8",
    )
    data = read_labelled(path)
    assert data.texts == ["Refund please\nI was charged twice, please refund", "Cannot log in since the update"]
    assert data.labels == ["Billing", "Technical"]


def test_named_columns_win_and_match_without_case(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Subject,Body,Intent,Queue\nHi,Where is my parcel,order_status,Logistics\n", encoding="utf-8")
    assert read_labelled(path).labels == ["order_status"]
    chosen = read_labelled(path, text_col="body", label_col="QUEUE")
    assert (chosen.texts, chosen.labels) == (["Where is my parcel"], ["Logistics"])


def test_tsv_json_and_jsonl(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text("query\tclass\nreset my password\taccount\n", encoding="utf-8")
    rows = [{"utterance": "cancel my plan", "label": "cancel"}, {"utterance": "thanks", "label": None}]
    as_json = tmp_path / "b.json"
    as_json.write_text(json.dumps(rows), encoding="utf-8")
    as_jsonl = tmp_path / "c.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert read_labelled(tsv).labels == ["account"]
    for path in (as_json, as_jsonl):
        data = read_labelled(path)
        assert (data.texts, data.labels) == (["cancel my plan"], ["cancel"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.csv", "a,b\n1,2\n", "cannot tell which column is the text"),
        ("nolabel.csv", "text,score\nhello,2\n", "cannot tell which column is the label"),
        ("empty.csv", "text,label\n", "no rows"),
        ("bad.jsonl", '{"text": "a", "label": "b"}\nnot json\n', "not valid JSON"),
        ("list.json", "[1, 2]", "one JSON object per row"),
    ],
)
def test_files_it_cannot_read_say_why(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        read_labelled(path)


def test_a_missing_file_or_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        read_labelled(tmp_path / "nope.csv")
    path = tmp_path / "t.csv"
    path.write_text("text,label\nhi,greet\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no column 'intent'"):
        read_labelled(path, label_col="intent")
