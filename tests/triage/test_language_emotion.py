from __future__ import annotations

import pytest

from app.triage import Models


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Where is my order? It has been a week.", "en"),
        ("Mi pedido no ha llegado todavía", "es"),
        ("Je voudrais annuler ma commande", "fr"),
        ("Ich möchte mein Abo kündigen", "de"),
        ("A minha encomenda está atrasada", "pt"),
        ("Il mio ordine è in ritardo", "it"),
        ("Mijn bestelling is nog niet bezorgd", "nl"),
        ("注文がまだ届きません", "ja"),
    ],
)
def test_language(models: Models, text: str, code: str) -> None:
    assert models.language.detect(text)[0] == code


def test_short_text_uses_requester_locale(models: Models) -> None:
    assert models.language.detect("ok thx", "de-DE")[0] == "de"


@pytest.mark.parametrize(
    "text",
    [
        "I've had enough, third time I'm asking for my refund!!",  # VADER/TextBlob: neutral
        "You keep promising a callback and it never happens",  # VADER: +0.40
        "This is unacceptable, I want to speak to a manager",
        "Still waiting for my package, nobody answers my emails",
        "Worst service ever. I want my money back now",  # "worst" still counts when it is not an idiom
        "You are killing me with these delays, at the worst possible time",
        # Angry uses of the calm idioms' words: not read as the idioms.
        "Worst case of incompetence I've dealt with. Where is my order?",
        "At worst you lied to me, at best you are incompetent. Where is my order?",
        "I'm dying to know why you charged me twice",
        "The worst case is your refund process, it is a joke.",
    ],
)
def test_frustration_caught(models: Models, text: str) -> None:
    assert models.emotion.score(text) >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "Could you tell me how long a refund usually takes?",
        "What is your return policy?",
        "Hi, can you help me change my delivery address?",
        "Thanks a lot, that solved it!",
        # Calm idioms made of angry words (each scored 0.91-0.97 before they were read plainly):
        "If worst comes to the worst we can pick the parcel up ourselves, but could you tell me where it is?",
        "Worst case we can wait until Monday, no rush. Just let me know when the order ships.",
        "At worst the delivery is a day late, that's fine. Can you confirm the address?",
        "I'm dying to try the new dashboard! How do I enable it for my team?",
    ],
)
def test_calm_not_flagged(models: Models, text: str) -> None:
    assert models.emotion.score(text) < 0.5


def test_non_english_uses_cues_only(models: Models) -> None:
    assert models.emotion.score("Olá, este sofá está disponível na cor verde?", english=False) < 0.3
    assert models.emotion.score("Es inaceptable, otra vez sin respuesta!!", english=False) >= 0.5
