from datetime import datetime, timedelta, timezone

from app.webhooks.signature import sign, verify
from tests.conftest import TEST_SECRET

TS = "2021-03-25T05:09:27Z"
NOW = datetime(2021, 3, 25, 5, 10, 0, tzinfo=timezone.utc)
BODY = b'{"ticket_id":"123"}'


def test_zendesk_documented_vector() -> None:
    assert sign(TEST_SECRET, TS, BODY) == "YmkQCnSLfGdf5pcvqNFcuOtUpzUb/ss09fM0NCi/wvw="


def test_good_signature_verifies() -> None:
    assert verify(TEST_SECRET, TS, sign(TEST_SECRET, TS, BODY), BODY, tolerance_seconds=300, now=NOW).ok


def test_tampered_body_refused() -> None:
    result = verify(TEST_SECRET, TS, sign(TEST_SECRET, TS, BODY), b'{"ticket_id":"124"}', tolerance_seconds=300, now=NOW)
    assert (result.ok, result.reason) == (False, "bad_signature")


def test_other_accounts_secret_refused() -> None:
    result = verify(TEST_SECRET, TS, sign("another-secret", TS, BODY), BODY, tolerance_seconds=300, now=NOW)
    assert result.reason == "bad_signature"


def test_stale_and_future_timestamps_refused() -> None:
    signature = sign(TEST_SECRET, TS, BODY)
    assert verify(TEST_SECRET, TS, signature, BODY, tolerance_seconds=300, now=NOW + timedelta(minutes=6)).reason == "stale_timestamp"
    assert verify(TEST_SECRET, TS, signature, BODY, tolerance_seconds=300, now=NOW - timedelta(minutes=6)).reason == "stale_timestamp"


def test_missing_and_malformed_headers_refused() -> None:
    assert verify(TEST_SECRET, TS, None, BODY, tolerance_seconds=300, now=NOW).reason == "missing_signature"
    assert verify(TEST_SECRET, None, "x", BODY, tolerance_seconds=300, now=NOW).reason == "missing_timestamp"
    assert verify(TEST_SECRET, "yesterday", "x", BODY, tolerance_seconds=300, now=NOW).reason == "bad_timestamp"
    assert verify(TEST_SECRET, TS, "not base64 at all", BODY, tolerance_seconds=300, now=NOW).reason == "bad_signature"
    assert verify("", TS, "x", BODY, tolerance_seconds=300, now=NOW).reason == "no_secret_configured"
