"""The intent taxonomy of the default model: the ids every other part of the system agrees on."""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "order_status",
    "shipping_delay",
    "return_request",
    "refund_request",
    "billing_invoice",
    "payment_failed",
    "cancellation",
    "account_access",
    "account_suspended",
    "technical_issue",
    "product_question",
    "complaint",
    "legal_privacy",
    "feedback",
    "other",
)

# The outcome when the classifier is not confident enough to name an intent (out of scope / unsure).
UNSURE = "unsure"

# The label that marks out-of-scope rows in user evaluation files (issue 6: "rows labelled `oos`").
OOS_LABELS: frozenset[str] = frozenset({"oos", "out_of_scope", "unsure"})
