"""A Zendesk API stand-in on loopback for integration tests and benchmarks (the worker is another process,
so an in-process HTTP mock cannot reach it).

It speaks the slice of the Support API the worker uses, in the recorded shapes (ticket, comments with
cursor meta and sideloaded users, users/show_many, PUT with safe_update -> 409 on a stale updated_stamp), records every PUT,
and injects faults on demand: `POST /_mock/faults {"PUT": [429, 409, 500, "reset", "timeout", "late"]}` makes
the next PUTs answer those in order ("late" applies the PUT but never answers: the write landed, the response
was lost). `POST /_mock/storm {"seconds": 8, "rate": 0.5, "faults": [429, 500, "reset"], "methods": ["PUT"]}`
answers that share of requests with a random one of those faults for a while (seeded, so reruns match).
`desk.fault_counts` counts what was injected. Run alone: `python -m bench.mock_zendesk --port 8089`.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

REQUESTER_ID = 6130907993114
AGENT_ID = 6130907990001


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class MockZendesk:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[int, dict[str, Any]] = {
            REQUESTER_ID: {"id": REQUESTER_ID, "name": "Jo Customer", "role": "end-user", "locale": "en-US", "email": "jo@example.com"},
            AGENT_ID: {"id": AGENT_ID, "name": "Ana Agent", "role": "agent", "locale": "en-US", "email": "ana@acme.test"},
        }
        self.puts: list[dict[str, Any]] = []
        self.faults: dict[str, list[Any]] = {}
        self.put_delay = 0.0
        self.api_latency = 0.0  # seconds every API call takes, like a real helpdesk's ~50-300 ms
        self.put_started = 0
        self.requests = 0
        self.timeout_sleep = 20.0  # how long a "timeout"/"late" fault keeps the client waiting
        self.storm: dict[str, Any] = {}
        self.fault_counts: dict[str, int] = {}
        self._random = random.Random(5)
        self._clock = datetime(2026, 11, 1, tzinfo=timezone.utc)
        self._comment_id = 33144692244000

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return _ts(self._clock)

    def add_ticket(self, ticket_id: int, subject: str, comments: list[tuple[str, str]], tags: list[str] | None = None) -> None:
        """comments: (role, body) with role customer|agent."""
        with self.lock:
            stamp = self._tick()
            self.tickets[ticket_id] = {
                "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json", "id": ticket_id, "external_id": None,
                "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}}, "created_at": stamp,
                "updated_at": stamp, "type": None, "subject": subject, "raw_subject": subject,
                "description": comments[0][1] if comments else "", "priority": None, "status": "new", "recipient": None,
                "requester_id": REQUESTER_ID, "submitter_id": REQUESTER_ID, "assignee_id": None,
                "organization_id": 6130869157658, "group_id": None, "collaborator_ids": [], "follower_ids": [],
                "email_cc_ids": [], "forum_topic_id": None, "problem_id": None, "has_incidents": False,
                "is_public": True, "due_at": None, "tags": list(tags or []), "custom_fields": [],
                "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": 6130830355738,
                "fields": [], "followup_ids": [], "ticket_form_id": 6130830344474, "brand_id": 6130830354842,
                "allow_channelback": False, "allow_attachments": True, "from_messaging_channel": False,
            }
            self.comments[ticket_id] = []
            for role, body in comments:
                self._add_comment(ticket_id, REQUESTER_ID if role == "customer" else AGENT_ID, body, True)

    def _add_comment(self, ticket_id: int, author_id: int, body: str, public: bool) -> None:
        self._comment_id += 1
        self.comments[ticket_id].append(
            {"id": self._comment_id, "type": "Comment", "author_id": author_id, "body": body,
             "html_body": f"<div class=\"zd-comment\" dir=\"auto\"><p dir=\"auto\">{body}</p></div>",
             "plain_body": body, "public": public, "attachments": [], "audit_id": self._comment_id + 1,
             "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}, "created_at": _ts(self._clock),
             "metadata": {"system": {}, "custom": {}}}
        )

    def notes_for(self, ticket_id: int) -> list[str]:
        return [c["body"] for c in self.comments.get(ticket_id, []) if not c["public"]]

    def next_fault(self, method: str) -> Any:
        with self.lock:
            queue = self.faults.get(method) or []
            fault = queue.pop(0) if queue else None
            storm = self.storm
            if fault is None and storm and time.monotonic() < storm["until"] and method in storm["methods"]:
                if self._random.random() < storm["rate"]:
                    fault = self._random.choice(storm["faults"])
            if fault is not None:
                self.fault_counts[str(fault)] = self.fault_counts.get(str(fault), 0) + 1
            return fault

    def start_storm(self, seconds: float, rate: float, faults: list[Any], methods: list[str] | None = None) -> None:
        with self.lock:
            self.storm = {"until": time.monotonic() + seconds, "rate": rate, "faults": list(faults),
                          "methods": list(methods or ["PUT"])}

    def put_counts(self) -> dict[int, int]:
        with self.lock:
            counts: dict[int, int] = {}
            for put in self.puts:
                counts[put["ticket_id"]] = counts.get(put["ticket_id"], 0) + 1
            return counts

    def put(self, ticket_id: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return 404, {"error": "RecordNotFound", "description": "Not found"}
            body = payload.get("ticket", {})
            if body.get("safe_update") and body.get("updated_stamp") != ticket["updated_at"]:
                return 409, {"error": "UpdateConflict", "description": "Ticket has been updated since you last viewed it"}
            self.puts.append({"ticket_id": ticket_id, "body": payload, "at": time.time()})
            for key in ("priority", "group_id", "assignee_id", "status"):
                if key in body:
                    ticket[key] = body[key]
            if "tags" in body:
                ticket["tags"] = list(body["tags"])
            for field in body.get("custom_fields", []):
                ticket["custom_fields"] = [f for f in ticket["custom_fields"] if f["id"] != field["id"]] + [field]
            if "comment" in body:
                self._add_comment(ticket_id, body["comment"].get("author_id", AGENT_ID), body["comment"]["body"],
                                  bool(body["comment"].get("public", True)))
            ticket["updated_at"] = self._tick()
            audit = {"id": 6164068756634 + len(self.puts), "ticket_id": ticket_id, "created_at": ticket["updated_at"],
                     "author_id": AGENT_ID, "metadata": {"system": {"client": "Zenpy/2.0.57"}, "custom": {}}, "events": [],
                     "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}}
            return 200, {"ticket": dict(ticket), "audit": audit}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the client's delayed ACK adds ~40 ms to every call.
    disable_nagle_algorithm = True
    server: "MockServer"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Rate-Limit", "700")
        self.send_header("X-Rate-Limit-Remaining", "699")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, method: str) -> bool:
        return self._answer_fault(self.server.desk.next_fault(method))

    def _answer_fault(self, fault: Any) -> bool:
        """Answer with an injected fault; False when there is none (or it is "late", which do_PUT plays)."""
        if fault is None or fault == "late":
            return False
        if fault == "reset":
            self.connection.close()
            return True
        if fault == "timeout":
            time.sleep(self.server.desk.timeout_sleep)
            self.connection.close()
            return True
        status = int(fault)
        if status == 429:
            self._send(429, {"error": "TooManyRequests"}, {"Retry-After": "1"})
        elif status == 409:
            self._send(409, {"error": "UpdateConflict", "description": "Ticket has been updated since you last viewed it"})
        else:
            self._send(status, {"error": "ServerError", "description": "injected"})
        return True

    def do_GET(self) -> None:  # noqa: N802
        desk = self.server.desk
        desk.requests += 1
        url = urlparse(self.path)
        if url.path == "/_mock/puts":
            return self._send(200, desk.puts)
        if desk.api_latency:
            time.sleep(desk.api_latency)
        if self._fault("GET"):
            return None
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", url.path):
            ticket = desk.tickets.get(int(m.group(1)))
            return self._send(200, {"ticket": ticket}) if ticket else self._send(404, {"error": "RecordNotFound", "description": "Not found"})
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)/comments\.json", url.path):
            comments = desk.comments.get(int(m.group(1)))
            if comments is None:
                return self._send(404, {"error": "RecordNotFound", "description": "Not found"})
            page = {"comments": comments, "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                    "links": {"prev": None, "next": None}}
            if "users" in ",".join(parse_qs(url.query).get("include", [])).split(","):  # the authors, sideloaded
                authors = dict.fromkeys(c["author_id"] for c in comments)
                page["users"] = [desk.users[a] for a in authors if a in desk.users]
            return self._send(200, page)
        if url.path == "/api/v2/users/show_many.json":
            ids = [int(i) for i in ",".join(parse_qs(url.query).get("ids", [""])).split(",") if i]
            return self._send(200, {"users": [desk.users[i] for i in ids if i in desk.users]})
        return self._send(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def do_PUT(self) -> None:  # noqa: N802
        desk = self.server.desk
        desk.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        fault = desk.next_fault("PUT")
        if self._answer_fault(fault):
            return None
        desk.put_started += 1
        if desk.put_delay or desk.api_latency:
            time.sleep(desk.put_delay + desk.api_latency)
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", urlparse(self.path).path):
            status, body = desk.put(int(m.group(1)), payload)
            if fault == "late":
                time.sleep(desk.timeout_sleep)
                self.connection.close()
                return None
            return self._send(status, body)
        return self._send(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def do_POST(self) -> None:  # noqa: N802
        desk = self.server.desk
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        path = urlparse(self.path).path
        if path == "/_mock/faults":
            with desk.lock:
                for method, faults in payload.items():
                    desk.faults.setdefault(method, []).extend(faults)
            return self._send(200, desk.faults)
        if path == "/_mock/config":
            desk.put_delay = float(payload.get("put_delay", desk.put_delay))
            desk.timeout_sleep = float(payload.get("timeout_sleep", desk.timeout_sleep))
            return self._send(200, {"put_delay": desk.put_delay, "timeout_sleep": desk.timeout_sleep})
        if path == "/_mock/storm":
            desk.start_storm(float(payload["seconds"]), float(payload.get("rate", 1.0)), payload["faults"], payload.get("methods"))
            return self._send(200, {"storm": payload})
        if path == "/_mock/tickets":
            desk.add_ticket(int(payload["id"]), payload["subject"], [tuple(c) for c in payload["comments"]], payload.get("tags"))
            return self._send(201, {"id": payload["id"]})
        return self._send(404, {"error": "InvalidEndpoint"})


class MockServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.desk = MockZendesk()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "MockServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a killed client, expected here
            super().handle_error(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()
    server = MockServer(args.port)
    print(f"mock zendesk on {server.url}")
    server.serve_forever()


if __name__ == "__main__":
    main()
