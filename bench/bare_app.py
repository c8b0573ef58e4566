"""The baseline for bench/intake.py: a bare Flask POST endpoint served with the same gunicorn settings."""
from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/zendesk")
def bare():  # noqa: ANN201
    request.get_data()
    return {"status": "queued"}, 202
