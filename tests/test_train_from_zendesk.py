"""`triage train --from-zendesk`: solved tickets read through the Zendesk search export, redacted, trained."""
from __future__ import annotations

import json

import responses

from app.cli import main

EXAMPLES = {
    "refund_request": ["I want my money back for order {n}", "Please refund the jacket I returned {n}",
                       "Refund not received yet for {n}", "When will you refund my payment {n}"],
    "order_status": ["Where is my order {n}", "Has my parcel shipped yet {n}", "Tracking shows nothing for {n}",
                     "When will order {n} arrive"],
    "account_access": ["I cannot log in to my account {n}", "Password reset link does not work {n}",
                       "Locked out of my account {n}", "2FA code never arrives {n}"],
}


@responses.activate
def test_train_from_zendesk_writes_a_model_without_customer_data(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    for key, value in {"VAR_DIR": str(tmp_path / "var"), "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.test",
                       "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "s", "LOG_FORMAT": "console"}.items():
        monkeypatch.setenv(key, value)
    results = []
    for label, texts in EXAMPLES.items():
        for i in range(12):
            text = texts[i % len(texts)].format(n=f"#NW-{48000 + i}")
            results.append({"id": len(results) + 1, "subject": text, "status": "solved", "result_type": "ticket",
                            "description": f"{text}. Reach me at jo.doe{i}@example.com", "tags": [f"intent__{label}"],
                            "custom_fields": []})
    responses.add(responses.GET, "https://acme.zendesk.com/api/v2/search/export.json",
                  json={"results": results, "meta": {"has_more": False, "after_cursor": None}, "links": {"next": None}})
    out = tmp_path / "model"
    try:
        assert main(["train", "--from-zendesk", "--since", "30d", "--out", str(out)]) == 0
    finally:
        from app.broker import stop_embedded_redis

        stop_embedded_redis(tmp_path / "var")  # the Zendesk adapter's shared rate budget started it
    manifest = json.loads((out / "MODEL.json").read_text())
    assert sorted(manifest["intents"]) == sorted(EXAMPLES)
    vocabulary = json.loads((out / "intent_vocabulary.json").read_text())
    words = set(vocabulary["word"]) if isinstance(vocabulary, dict) and "word" in vocabulary else set(map(str, vocabulary))
    leaked = {w for w in words for token in w.split() if token in ("example", "jo") or (token.startswith("doe") and token[3:].isdigit())}
    assert words and not leaked  # the emails were redacted before training
