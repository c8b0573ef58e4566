"""Tickets a human must take whatever the intent model says: account takeovers, legal threats, and tickets
that say too little. Written as tickets an agent would meet, in the languages the policy lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.triage import Models, Policy, load_policy, run
from app.triage.escalation import words_pattern

from .conftest import make_ticket


def decide(models: Models, policy: Policy, subject: str, body: str, locale: str = ""):  # noqa: ANN201
    return run(make_ticket({"id": "1", "subject": subject, "thread": [["customer", body]], "locale": locale}), models, policy)


TAKEOVER = ("security_incident", "accounts", ("urgent",), "treat as a possible account takeover")
LEGAL = ("legal_threat", "legal", ("high", "urgent"), "a legal threat or chargeback")


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Account", "My password and email address were changed and there is an order I didn't place.", TAKEOVER),
        ("Cuenta", "Me han hackeado la cuenta y han cambiado mi correo.", TAKEOVER),
        ("Compte", "Mon compte a été piraté, quelqu'un a commandé avec ma carte.", TAKEOVER),
        ("Konto", "Mein Konto wurde gehackt, jemand hat meine Adresse geändert.", TAKEOVER),
        ("アカウント", "アカウントが乗っ取られました。身に覚えのない注文があります。", TAKEOVER),
        ("Weird email", "I think I fell for a phishing email and typed my card details on a fake site.", TAKEOVER),
        ("Erstattung", "Wenn das Geld bis Freitag nicht da ist, schalte ich meinen Anwalt ein und lasse die Zahlung zurückbuchen.", LEGAL),
        ("Remboursement", "Sans réponse sous 48 h, je transmets le dossier à mon avocat.", LEGAL),
        ("Reembolso", "Es la tercera vez que escribo. Voy a hablar con mi abogado.", LEGAL),
        ("Rimborso", "Se non ricevo il rimborso contesto l'addebito con la banca e chiamo il mio avvocato.", LEGAL),
        ("返金", "返金されない場合は弁護士に相談します。", LEGAL),
        ("Refund", "Refund me by Friday or I'm filing a chargeback with my bank.", LEGAL),
        ("Charged twice", "You charged my card twice for order #661020. Fix it today or I'll dispute it with my bank.", LEGAL),
        ("Is this email from you?", "An email says my account closes unless I confirm my card at a link. Is this really from you?", TAKEOVER),
    ],
)
def test_takeovers_and_legal_threats_go_to_their_team_in_any_language(
    models: Models, policy: Policy, subject: str, body: str, expected: tuple
) -> None:
    reason, queue, priorities, first_step = expected
    decision = decide(models, policy, subject, body)
    assert decision.escalate and reason in decision.reasons and decision.draft is None
    assert decision.queue == queue and decision.priority in priorities
    assert decision.handoff.suggestion.startswith(first_step)


def test_ordinary_words_that_sound_legal_or_angry_are_not_rules(models: Models, policy: Policy) -> None:
    for subject, body in (
        ("Order for a colleague", "My colleague Sue placed order 88123 for me, can you tell me where it is?"),
        ("Pickup", "If the worst comes to the worst and the courier misses me, can I pick it up at the depot?"),
        ("Paquete", "El paquete llegó con un golpe en la caja, ¿pueden cambiarlo?"),
    ):
        reasons = decide(models, policy, subject, body).reasons
        assert not {"anger_words", "legal_threat", "security_incident"} & set(reasons), (body, reasons)


@pytest.mark.parametrize(("subject", "body"), [("help", "help"), ("Hi", "?"), ("", "Hello")])
def test_a_ticket_that_says_too_little_asks_for_more_instead_of_guessing(models: Models, policy: Policy, subject: str, body: str) -> None:
    decision = decide(models, policy, subject, body)
    assert decision.intent == "unsure" and "too_short" in decision.reasons and decision.draft is None
    assert decision.handoff.suggestion.startswith("ask the customer what they need")


def test_short_but_real_questions_are_still_answered(models: Models, policy: Policy) -> None:
    decision = decide(models, policy, "Where is my order?", "Where is my order #48213?")
    assert "too_short" not in decision.reasons and decision.intent == "order_status"
    assert "too_short" not in decide(models, policy, "注文", "注文が届きません").reasons


def test_an_admin_adds_a_phrase_rule_with_its_own_queue(models: Models, tmp_path: Path) -> None:
    text = Path(load_policy().path).read_text(encoding="utf-8")
    custom = tmp_path / "policy.toml"
    custom.write_text(text + '\n[[escalation.phrases]]\nreason = "press"\nqueue = "pr"\nnext_step = "call the PR lead"\n'
                      'words = ["journalist", "newspaper"]\n', encoding="utf-8")
    decision = decide(models, load_policy(custom), "Order", "I am a journalist writing about your late deliveries.")
    assert "press" in decision.reasons and decision.queue == "pr" and decision.handoff.suggestion == "call the PR lead"


def test_phrases_match_whole_words_and_unspaced_scripts_anywhere() -> None:
    pattern = words_pattern(("sue you", "弁護士"))
    assert pattern.search("I will SUE YOU") and not pattern.search("Sue placed the order")
    assert pattern.search("弁護士に相談します") and not pattern.search("pursue your dreams")


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Automatic reply: Re: your order 4412", "Thank you for your email."),
        ("Re: Bestellung 4412", "Ich bin bis zum 15.12. nicht im Büro. In dringenden Fällen wenden Sie sich an meine Kollegin."),
        ("Réponse automatique", "Je suis absente jusqu'au 3 janvier."),
    ],
)
def test_automatic_replies_get_no_draft_and_wait_at_low_priority(models: Models, policy: Policy, subject: str, body: str) -> None:
    decision = decide(models, policy, subject, body)
    assert "ai_auto_reply" in decision.tags and decision.draft is None and not decision.escalate
    assert decision.priority == "low" and decision.internal_note.startswith("AI triage: Nothing to answer.")


def test_a_customer_who_mentions_being_away_is_not_an_automatic_reply(models: Models, policy: Policy) -> None:
    decision = decide(models, policy, "Where is my order", "Hi, where is my order 4412? I was out of office last week.")
    assert "ai_auto_reply" not in decision.tags


def test_cold_outreach_is_tagged_as_possible_spam_without_a_draft(models: Models, policy: Policy) -> None:
    decision = decide(models, policy, "Partnership for your website",
                      "Dear website owner, our SEO experts can get you to the first page of Google. Reply with YES for a free audit.")
    assert "ai_possible_spam" in decision.tags and decision.draft is None and decision.priority == "low"
    calm = decide(models, policy, "Marketing emails", "Please unsubscribe me from your newsletter, I get too many emails.")
    assert "ai_possible_spam" not in calm.tags  # one cue is a customer asking for something
