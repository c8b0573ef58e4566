"""The transformer reads a ticket from its most telling sentence on, not from the courtesies that open it."""

from __future__ import annotations

import numpy as np
import pytest

from app.triage import Comment, Models, Policy, Ticket, run
from app.triage.focus import focused

TELLING = {"I want my money back.": 0.95, "Thanks!": 0.2}


def sureness(sentences) -> np.ndarray:  # noqa: ANN001
    return np.array([TELLING.get(s, 0.3) for s in sentences])


def test_window_starts_at_the_surest_sentence_and_keeps_what_follows() -> None:
    text = "Question\nHello, I hope you are well. I want my money back. Thanks!"
    assert focused(text, sureness) == "Question\nI want my money back. Thanks!"


def test_text_is_unchanged_when_it_already_opens_with_the_request() -> None:
    text = "Refund\nI want my money back. Hello, I hope you are well."
    assert focused(text, sureness) is text
    assert focused("Refund\nI want my money back.", sureness) == "Refund\nI want my money back."  # one sentence


def test_sentences_of_every_customer_line_count() -> None:
    # intent text = subject, first customer message, latest one: the latest may hold the request.
    text = "Order 5521\nHi there, thanks for the quick reply last time.\nI want my money back."
    assert focused(text, sureness) == "Order 5521\nI want my money back."


@pytest.mark.parametrize(
    ("opening", "ask", "intent"),
    [
        # Each was "other" or "feedback" when the transformer read the first 32 tokens.
        ("Hello, I hope this message finds you well and that you had a great weekend with your family.",
         "I was charged for my subscription after I cancelled it and I would like my money back.", "refund_request"),
        ("Hi there, first of all I want to say that I really love your products and I have recommended you to all my friends.",
         "I would like to cancel my order before it ships.", "cancellation"),
    ],
)
def test_a_long_courteous_opening_does_not_hide_the_request(models: Models, policy: Policy, opening: str, ask: str, intent: str) -> None:
    ticket = Ticket(provider="sandbox", id="1", subject="Question", comments=(Comment("1", "customer", f"{opening} {ask}"),))
    assert run(ticket, models, policy).intent == intent
