from __future__ import annotations

import pytest

from app.triage.pii import iban_ok, luhn_ok, redact, restore


def test_checksums() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00")
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("DE89 3704 0044 0532 0130 01")


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("write to jane.doe+shop@example.co.uk please", "jane.doe+shop@example.co.uk", "EMAIL"),
        ("call +44 20 7946 0958 after 5", "+44 20 7946 0958", "PHONE"),
        ("my number is (415) 555-0132", "(415) 555-0132", "PHONE"),
        ("Tel 030 1234567", "030 1234567", "PHONE"),
        ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111", "CARD"),
        ("card 4111-1111-1111-1111", "4111-1111-1111-1111", "CARD"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "DE89 3704 0044 0532 0130 00", "IBAN"),
        ("ship to 221B Baker Street, London", "221B Baker Street", "ADDRESS"),
        ("Adresse: Hauptstraße 12, Berlin", "Hauptstraße 12", "ADDRESS"),
        ("envíelo a Calle Mayor 5, Madrid", "Calle Mayor 5", "ADDRESS"),
        ("reach Flat 4, 88 Kingsmead Grove on Thursday", "88 Kingsmead Grove", "ADDRESS"),
        ("I moved to 17 Hawthorn Close last week", "17 Hawthorn Close", "ADDRESS"),
        ("my SSN is 078-05-1120", "078-05-1120", "ID"),
        ("NI number AB 12 34 56 C", "AB 12 34 56 C", "ID"),
        ("passport no. 533401219, expires 2031", "533401219", "ID"),
        ("Reisepass Nr: C01X00T47", "C01X00T47", "ID"),
    ],
)
def test_redacts_typed_placeholder(text: str, secret: str, kind: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert f"[{kind}_1]" in result.text
    assert restore(result.text, result.mapping) == text


@pytest.mark.parametrize(
    "text",
    [
        "Order #123456789012 has not arrived",
        "ticket 4587345 is still open",
        "pedido 3707955617 cancelado",
        # an order number that happens to pass Luhn stays: it follows "order"
        "order 1234 5678 9012 3456 is late",
        "paid on 12.03.2024, invoice 2024-0042",
        "card ending 4111 1111 1111 1112",  # fails Luhn: not a card
        "it arrived within 5 days close to the date",  # "close" is a street only as a capitalised name
        "my passport expired, can I still pick up order 4411?",
    ],
)
def test_keeps_order_numbers_dates_and_non_checksummed_numbers(text: str) -> None:
    assert redact(text).text == text


def test_same_value_same_placeholder_and_restore_only_where_asked() -> None:
    result = redact("a@example.com, again a@example.com, and b@example.com")
    assert result.text == "[EMAIL_1], again [EMAIL_1], and [EMAIL_2]"
    assert result.counts == {"EMAIL": 2}


def test_known_requester_name_is_redacted() -> None:
    from app.triage.pii import Redactor

    redactor = Redactor(known_names=("Lars Jensen",))
    assert (
        redactor.redact("Hi Lars, Mr Jensen's invoice is attached")
        == "Hi [NAME_1], Mr [NAME_2]'s invoice is attached"
    )
    assert redactor.mapping == {"[NAME_1]": "Lars", "[NAME_2]": "Jensen"}
