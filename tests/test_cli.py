"""The `triage` commands answer bad input with one line and exit 2, never a traceback."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("ZENDESK_SUBDOMAIN", "ZENDESK_BASE_URL", "DATABASE_URL", "REDIS_URL", "HELPDESK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LOG_FORMAT", "console")
    return tmp_path


def test_commands_on_a_database_never_migrated_say_run_migrate(env: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: ARG001
    for argv in (["deliveries"], ["replay", "5"], ["replay", "--failed"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "is not migrated: run `triage migrate`" in err and "Traceback" not in err


def test_missing_or_unreadable_training_files_are_one_line(env: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (["calibrate", "--train", str(env / "nope.csv")],
                 ["route-eval", "--train", str(env / "nope.csv"), "--test", str(env / "nope.csv")],
                 ["eval", "--train", str(env / "nope.csv"), "--test", str(env / "nope.csv")]):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert "nope.csv: no such file" in (captured.err + captured.out).replace("\n", ""), argv


def test_unknown_status_is_refused_by_the_parser(env: Path) -> None:  # noqa: ARG001
    with pytest.raises(SystemExit) as exited:
        main(["deliveries", "--status", "bogus"])
    assert exited.value.code == 2


def test_train_without_out_writes_under_var_dir(env: Path, capsys: pytest.CaptureFixture) -> None:
    data = env / "tickets.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Ticket Subject", "Ticket Description", "Ticket Type"])
        for i in range(10):
            writer.writerow([f"Refund for order {i}", "I want my money back", "refund"])
            writer.writerow([f"Order {i} not here", "Where is my parcel, tracking shows nothing", "shipping"])
            writer.writerow([f"Login fails {i}", "I cannot sign in to my account", "account"])
    assert main(["train", "--data", str(data), "--encoder", "minilm", "--multilingual", "none"]) == 0
    [model] = (env / "var" / "models").iterdir()
    assert model.name.startswith("intent-") and sorted(json.loads((model / "MODEL.json").read_text())["intents"]) == [
        "account", "refund", "shipping"]
    assert f"TRIAGE_MODEL_DIR={model.resolve()}" in capsys.readouterr().err.replace("\n", "")
