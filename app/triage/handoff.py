"""The handoff summary a human reads first: issue, mood, what was offered, the answer, what to do next."""

from __future__ import annotations

from app.triage.decision import HandoffSummary
from app.triage.thread import OfferExchange, already_tried, last_staff_step
from app.triage.ticket import Comment

TOPIC: dict[str, str] = {
    "order_status": "the status of an order",
    "shipping_delay": "late delivery",
    "return_request": "returning an item",
    "refund_request": "a refund",
    "billing_invoice": "an invoice or charge",
    "payment_failed": "a failed payment",
    "cancellation": "cancelling an order or subscription",
    "account_access": "access to their account",
    "account_suspended": "a suspended account",
    "technical_issue": "a technical problem",
    "product_question": "a product",
    "complaint": "a complaint about the service",
    "legal_privacy": "a privacy or legal request",
    "feedback": "their experience (feedback)",
    "other": "a request outside the usual topics",
    "unsure": "a request the bot could not classify",
}


def topic_of(intent: str) -> str:
    """Words for the intent; a model trained with `triage train` has its own labels, shown as they are."""
    return TOPIC.get(intent) or f"'{intent.replace('_', ' ')}'"


_MOOD = {
    "angry": "upset about",
    "negative": "unhappy about",
    "neutral": "asking about",
    "positive": "asking about",
}

# What a senior agent would do next; the rejected-offer variants step up one level of goodwill.
_NEXT: dict[str, str] = {
    "order_status": "check the carrier tracking and give the customer a delivery date",
    "shipping_delay": "check the carrier, give a firm delivery date and apologise",
    "return_request": "confirm return eligibility and send the return label",
    "refund_request": "check refund eligibility in the order history and confirm the amount and timeline",
    "billing_invoice": "check the charge against the invoice and correct it if wrong",
    "payment_failed": "check the payment log and give the customer a way to pay that works",
    "cancellation": "confirm the cancellation and any refund due under the cancellation article",
    "account_access": "verify identity and restore access",
    "account_suspended": "review the suspension reason and verify identity before reinstating",
    "technical_issue": "reproduce the problem and collect device/app version",
    "product_question": "answer the product question",
    "complaint": "apologise, acknowledge the specific failure and propose a remedy",
    "legal_privacy": "forward to the privacy team; answer within the legal deadline (30 days under GDPR)",
    "feedback": "thank the customer and log the feedback",
    "other": "read the thread and route to the right team",
    "unsure": "read the thread and route to the right team",
}
_NEXT_AFTER_REJECTION: dict[str, str] = {
    "shipping_delay": "free shipping on the next order + apology",
    "order_status": "free shipping on the next order + apology",
    "refund_request": "review the case for a refund or store credit within policy + apology",
    "return_request": "offer a prepaid return label or an exchange + apology",
    "complaint": "a personal call-back from a team lead + a goodwill gesture within policy",
}


def summarise(
    intent: str,
    sentiment: str,
    offer: OfferExchange | None,
    reasons: list[str],
    emotion: float,
    comments: tuple[Comment, ...] = (),
    next_steps: dict[str, str] | None = None,
) -> HandoffSummary:
    """`comments` must be the redacted thread: the summary lands in the note and the database.

    `next_steps` (reason code -> first step, from the policy's phrase rules) outranks the intent's usual
    step: a hacked account that reads like a login question needs securing before anything else.
    """
    issue = f"Customer {_MOOD.get(sentiment, 'asking about')} {topic_of(intent)}"
    offered = answer = ""
    if offer:
        offered = f"{offer.offered_by.capitalize()} offered {offer.offer}"
        if offer.answer:
            answer = f"Customer {offer.answer}"
        else:
            answer = "Customer has not answered the offer"
    elif (step := last_staff_step(comments)) is not None:
        offered = f'{step.role.capitalize()} replied: "{step.said.rstrip(".")}"'
        if step.customer_replies:
            plural = "s" if step.customer_replies > 1 else ""
            answer = f"Customer wrote {step.customer_replies} more message{plural} since"
    if tried := already_tried(comments):
        answer = f'{answer}; customer says: "{tried.rstrip(".")}"' if answer else f'Customer says: "{tried.rstrip(".")}"'
    suggestion = _NEXT.get(intent, _NEXT["other"])
    urgent = next((next_steps[r] for r in reasons if next_steps and next_steps.get(r)), "")
    if urgent:
        suggestion = urgent
    elif "too_short" in reasons:
        suggestion = "ask the customer what they need: the ticket says too little to act on"
    elif offer and offer.answer == "accepted":
        suggestion = f"do what was agreed ({offer.offer}) and confirm it to the customer"
    elif offer and offer.answer == "rejected":
        suggestion = _NEXT_AFTER_REJECTION.get(intent, f"a better remedy than {offer.offer}, within policy")
    else:
        if "low_confidence" in reasons:
            # A guessed topic must not steer the agent ("confirm the cancellation" for a declined card).
            suggestion = f"first check what the customer asks (the topic is a guess); if it is {topic_of(intent)}: {suggestion}"
        if sentiment == "angry" and "apolog" not in suggestion:
            suggestion += " + apology"
    return HandoffSummary(
        issue=issue,
        sentiment=f"{sentiment} ({emotion:.2f})",
        offered=offered,
        customer_answer=answer,
        suggestion=suggestion,
        reason=", ".join(reasons),
    )
