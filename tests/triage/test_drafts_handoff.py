from __future__ import annotations

import numpy as np

from app.triage import Comment, Models
from app.triage.draft import compose
from app.triage.handoff import summarise
from app.triage.knowledge import Article, Hit, KnowledgeBase, Section
from app.triage.thread import last_offer


def _hit(allows: frozenset[str], text: str, score: float = 0.8) -> Hit:
    article = Article("a1", "Shipping delays", frozenset({"shipping_delay"}), allows, text)
    return Hit(Section(article, "Late parcels", text), score)


TEXT = (
    "Most parcels arrive in 5 days. If it is late we refund the shipping cost. "
    "Contact us with the order number."
)


def test_draft_cites_article_and_greets_by_first_name() -> None:
    draft = compose("shipping_delay", [_hit(frozenset({"refund"}), TEXT)], 0.35, "Anna Schmidt", "Team")
    assert draft.grounded and draft.article_id == "a1"
    assert draft.text.startswith("Hi Anna,")
    assert '"Shipping delays" (a1)' in draft.text
    assert "refund the shipping cost" in draft.text


def test_no_refund_promise_without_an_article_that_allows_it() -> None:
    draft = compose("shipping_delay", [_hit(frozenset(), TEXT)], 0.35, "Anna", "Team")
    assert "refund" not in draft.text.lower()
    assert draft.dropped_money_promises == 1
    assert "Contact us with the order number." in draft.text


def test_ungrounded_draft_says_so() -> None:
    draft = compose("other", [_hit(frozenset(), TEXT, score=0.1)], 0.35, "", "Team")
    assert not draft.grounded
    assert "could not find an answer" in draft.text
    assert draft.text.startswith("Hello,")


def test_draft_speaks_to_the_customer_and_drops_markdown_headings() -> None:
    article = Article("a9", "Account access", frozenset({"account_access"}), frozenset(), "")
    text = "### Reset your password\n- Open the app\n\n- Tap *Forgot password*"
    draft = compose("account_access", [Hit(Section(article, "Sign-in problems", text), 0.9)], 0.35, "Jo", "Team")
    assert "about access to your account" in draft.text and "their" not in draft.text
    assert "#" not in draft.text and "Reset your password:" in draft.text
    assert "feedback)" not in compose("feedback", [], 0.35, "Jo", "Team", needs_article=False).text


def test_help_center_retrieval(models: Models) -> None:
    query = models.static.embed(["How do I get an invoice with my company VAT number?"])[0]
    hits = models.knowledge.search(query, "billing_invoice")
    assert hits[0].section.article.id == "invoices-vat"
    assert len(models.knowledge.articles) >= 10


def test_empty_help_center(tmp_path) -> None:
    kb = KnowledgeBase.from_folder(tmp_path, lambda texts: np.zeros((len(texts), 384), dtype=np.float32))
    assert kb.search(np.zeros(384, dtype=np.float32), "other") == []


def _thread(*pairs: tuple[str, str]) -> tuple[Comment, ...]:
    return tuple(Comment(str(i), role, body) for i, (role, body) in enumerate(pairs))  # type: ignore[arg-type]


def test_offer_rejected_and_summary_render() -> None:
    offer = last_offer(
        _thread(
            ("customer", "My parcel is two weeks late."),
            ("bot", "Sorry! We can offer you a 10% discount on your next order."),
            ("customer", "No thanks, that's not good enough."),
        )
    )
    assert offer is not None and offer.offer == "10% discount" and offer.answer == "rejected"
    summary = summarise("shipping_delay", "angry", offer, ["offer_rejected"], 0.9)
    assert summary.render() == (
        "Customer upset about late delivery. Bot offered 10% discount. Customer rejected. "
        "Suggest: free shipping on the next order + apology."
    )


def test_offer_by_agent_accepted_and_in_other_language() -> None:
    accepted = last_offer(
        _thread(("agent", "I can send a free replacement today."), ("customer", "Yes please!"))
    )
    assert accepted is not None and accepted.offered_by == "agent" and accepted.answer == "accepted"
    spanish = last_offer(
        _thread(("bot", "Podemos ofrecer un descuento del 15%."), ("customer", "No quiero un descuento."))
    )
    assert spanish is not None and spanish.answer == "rejected"
    assert (
        last_offer(_thread(("customer", "I want a refund"), ("bot", "Your refund was sent yesterday.")))
        is None
    )


def test_static_embeddings_rank_like_minilm(models: Models) -> None:
    texts = ["Where is my parcel?", "Has my order shipped yet?", "How do I reset my password?"]
    static = models.static.embed(texts)
    assert static[0] @ static[1] > static[0] @ static[2]
    assert np.allclose(np.linalg.norm(static, axis=1), 1.0, atol=1e-4)


def _decide(models: Models, policy, subject: str, *messages: tuple[str, str]):  # noqa: ANN001, ANN202
    from app.triage import Ticket, run

    thread = tuple(Comment(str(i), role, body) for i, (role, body) in enumerate(messages, start=1))
    return run(Ticket("sandbox", "1", subject, thread, requester_name="Ada Okonkwo-Adeyemi"), models, policy)


def test_summary_skips_small_talk_and_keeps_what_the_customer_already_tried(models: Models, policy) -> None:  # noqa: ANN001
    decision = _decide(
        models, policy, "App crashes",
        ("customer", "The app crashes every time I open my orders."),
        ("agent", "Dear Mrs. Okonkwo-Adeyemi, thanks for waiting. Please clear the cache and reinstall the app."),
        ("customer", "I already cleared the cache and reinstalled twice. Still crashes!"),
    )
    assert decision.escalate  # a human agent already answered
    assert decision.handoff.offered == 'Agent replied: "Please clear the cache and reinstall the app"'
    assert 'customer says: "I already cleared the cache and reinstalled twice"' in decision.handoff.customer_answer


def test_an_accepted_offer_is_not_read_as_anger(models: Models, policy) -> None:  # noqa: ANN001
    decision = _decide(
        models, policy, "Broken vase",
        ("customer", "The vase arrived smashed. This is unacceptable!!"),
        ("bot", "I'm so sorry. We can send you a free replacement right away. Would you like that?"),
        ("customer", "Yes please, that works. Thanks!"),
    )
    assert decision.reasons == ("offer_accepted",) and decision.sentiment != "angry" and decision.draft is None
    assert decision.handoff.suggestion == "do what was agreed (free replacement) and confirm it to the customer"


def test_a_guessed_topic_does_not_steer_the_agent() -> None:
    unsure = summarise("cancellation", "neutral", None, ["low_confidence"], 0.1)
    assert unsure.suggestion.startswith("first check what the customer asks (the topic is a guess); if it is cancelling")
    angry = summarise("cancellation", "angry", None, ["low_confidence", "angry_customer"], 0.9)
    assert angry.suggestion.startswith("first check what the customer asks") and angry.suggestion.endswith("+ apology")
    sure = summarise("cancellation", "neutral", None, ["intent_cancellation"], 0.1)
    assert sure.suggestion.startswith("confirm the cancellation")
