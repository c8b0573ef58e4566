"""PII redaction: emails, phones, cards (Luhn), IBANs (mod-97), government ids and street addresses become
typed placeholders.

Order and ticket numbers stay readable because agents and routing need them; only checksummed numbers
(cards, IBANs) and phone-shaped numbers are replaced. The mapping lets the draft, and only the draft,
be restored before it is written back to the helpdesk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Bounded repeats: an unbounded local part made redaction quadratic (7 s on 80 KB of "123-123-...").
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# A phone needs a leading + or a typical grouping; bare long digit runs (order numbers) must not match.
_PHONE = re.compile(
    r"(?<![\w#])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,8}){1,4}(?![\w])"
    r"|(?<![\w#])\+\d{8,14}(?!\w)"
)
_STREET_WORDS = (
    r"street|st\.?|avenue|ave\.?|road|rd\.?|boulevard|blvd\.?|lane|ln\.?|drive|dr\.?|way|court|ct\.?|place|pl\.?"
    r"|square|terrace"
    r"|straße|strasse|str\.|weg|allee|platz|gasse|calle|avenida|rue|boulevard|via|viale|rua|laan|straat"
)
# Government ids: US social security numbers (3-2-4, which also looks like a date to _looks_like_date),
# UK national insurance numbers, and passport numbers where the word "passport" says what they are.
_NATIONAL_ID = re.compile(
    r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"
    r"|\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"
)
_PASSPORT = re.compile(
    r"(?i)\b(?:passport|passeport|reisepass|pasaporte|passaporto|passaporte|paspoort)"
    r"(?:\s+(?:no\.?|nr\.?|n°|number|número|numero|nummer))?\s*[:#]?\s*([A-Z0-9]{6,9})\b"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'.-]*\s+){{0,3}}(?:{_STREET_WORDS})\b"
    rf"|\b(?:[A-ZÄÖÜ][\wäöüß'-]*)(?:straße|strasse|weg|allee|platz|gasse)\s+\d{{1,4}}[a-z]?\b"
    # British street names that are also everyday words ("5 days close to"): only as capitalised names.
    rf"|\b\d{{1,5}}[A-Za-z]?\s+(?-i:(?:[A-Z][\w'.-]*\s+){{1,3}}(?:Close|Grove|Crescent|Gardens|Mews|Parade|Row|Hill|Rise|Walk))\b"
    rf"|\b(?:calle|avenida|rue|via|rua|avenue)\s+(?:de\s+|del\s+|la\s+|des\s+|du\s+)?[A-ZÁÉÍÓÚ][\w'-]*(?:\s+[A-Z][\w'-]*)?,?\s+\d{{1,4}}\b",
    re.IGNORECASE,
)
_ORDER_CONTEXT = re.compile(
    r"(?:order|ticket|case|invoice|tracking|pedido|commande|bestellung|ordine|#)\W{0,3}$", re.I
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


@dataclass
class Redaction:
    """Redacted text plus the placeholder -> original mapping (kept in memory only, never stored)."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return placeholder_counts(self.mapping)


def placeholder_counts(mapping: dict[str, str]) -> dict[str, int]:
    """{"EMAIL": 2, ...}: what kinds of personal data were replaced, for the note (never the values)."""
    counts: dict[str, int] = {}
    for placeholder in mapping:
        kind = placeholder.strip("[]").rsplit("_", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


class Redactor:
    """Stateful across one ticket so the same email in two comments gets the same placeholder.

    `known_names` (the requester's name from the helpdesk) are replaced too: without an NER model we
    cannot find names in general, but agents greet customers by the name the ticket already carries.
    """

    def __init__(self, known_names: tuple[str, ...] = ()) -> None:
        self.mapping: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        parts = sorted(
            {p for name in known_names for p in name.split() if len(p) >= 2}, key=len, reverse=True
        )
        self._names = re.compile(r"\b(?:" + "|".join(map(re.escape, parts)) + r")\b") if parts else None

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            n = sum(1 for k, _ in self._by_value if k == kind) + 1
            placeholder = f"[{kind}_{n}]"
            self._by_value[key] = placeholder
            self.mapping[placeholder] = value
        return self._by_value[key]

    def redact(self, text: str) -> str:
        if "@" in text:
            text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group()), text)
        text = _NATIONAL_ID.sub(lambda m: self._placeholder("ID", m.group()), text)
        text = _PASSPORT.sub(self._passport, text)
        text = _IBAN.sub(self._iban, text)
        text = _CARD.sub(self._card, text)
        text = _PHONE.sub(self._phone, text)
        text = _ADDRESS.sub(lambda m: self._placeholder("ADDRESS", m.group()), text)
        if self._names:
            text = self._names.sub(lambda m: self._placeholder("NAME", m.group()), text)
        return text

    def _passport(self, match: re.Match[str]) -> str:
        number = match.group(1)
        if not any(ch.isdigit() for ch in number):  # "passport expired": a word, not a number
            return match.group()
        start = match.start(1) - match.start()
        return match.group()[:start] + self._placeholder("ID", number)

    def _iban(self, match: re.Match[str]) -> str:
        value = match.group()
        return self._placeholder("IBAN", value) if iban_ok(value) else value

    def _card(self, match: re.Match[str]) -> str:
        value = match.group()
        digits = re.sub(r"\D", "", value)
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _is_reference(match):
            return self._placeholder("CARD", value)
        return value

    def _phone(self, match: re.Match[str]) -> str:
        value = match.group()
        digits = re.sub(r"\D", "", value)
        if len(digits) < 7 or len(digits) > 15 or _is_reference(match) or _looks_like_date(value):
            return value
        return self._placeholder("PHONE", value)


def _is_reference(match: re.Match[str]) -> bool:
    """Order/ticket/invoice numbers stay: routing and agents need them and they identify no person."""
    return bool(_ORDER_CONTEXT.search(match.string[max(0, match.start() - 14) : match.start()]))


def _looks_like_date(value: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", value.strip()))


def redact(text: str) -> Redaction:
    redactor = Redactor()
    return Redaction(redactor.redact(text), redactor.mapping)


def restore(text: str, mapping: dict[str, str]) -> str:
    """Put the original values back (draft only); longest placeholders first so _1 never eats _12."""
    for placeholder in sorted(mapping, key=len, reverse=True):
        text = text.replace(placeholder, mapping[placeholder])
    return text
