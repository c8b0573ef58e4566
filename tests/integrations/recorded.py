"""Read the betamax cassettes recorded against a live Zendesk (../shared/fixtures/zendesk-recorded)."""
from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

import pytest

from tests.conftest import RECORDED


@dataclass(frozen=True)
class Interaction:
    method: str
    uri: str
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> dict:
        return json.loads(self.body)


def cassette(name: str) -> list[Interaction]:
    path = RECORDED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"recorded sessions not available: {path}")
    interactions = []
    for item in json.loads(path.read_text())["http_interactions"]:
        body = item["response"]["body"]
        text = body.get("string") or ""
        if body.get("base64_string"):
            raw = base64.b64decode(body["base64_string"])
            text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
        headers = {k: v[0] for k, v in item["response"]["headers"].items() if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")}
        interactions.append(Interaction(item["request"]["method"], item["request"]["uri"], item["response"]["status"]["code"], text, headers))
    return interactions
