"""bench/intake.py --view-only: the real webhook app with storage and the Redis push taken out.

Same view, signature check, parsing and JSON answer; `accept` answers as if a new delivery were stored and
queued. It shows what the durable commit and the enqueue cost, and is never served outside the bench.
"""
import app.webhooks.common as common
from app.web import create_app
from app.webhooks.intake import Accepted

common.accept = lambda _sessions, _event, _enqueue: Accepted(1, created=True, queued=True)
app = create_app()
