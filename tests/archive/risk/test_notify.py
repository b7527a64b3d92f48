"""Webhook delivery of alert notifications: retried with backoff until the receiver accepts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.settings import Settings
from archive.risk.notify import deliver_pending
from archive.store.models import OutboxEvent


class Receiver:
    def __init__(self) -> None:
        self.fail_next = 1
        self.received: list[dict[str, object]] = []


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(503)
            else:
                state.received.append(body)
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_webhook_retries_until_accepted(db: sessionmaker[Session], receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    settings = Settings(notify_webhook_url=url)
    with db.begin() as s:
        s.add(
            OutboxEvent(
                topic="notify",
                payload={
                    "alert_id": "a1",
                    "tier": 3,
                    "category": "side_dealing",
                    "rule": "r",
                    "room_id": 1,
                    "audience": "compliance",
                },
            )
        )
    assert deliver_pending(db, settings) == (0, 1)
    assert deliver_pending(db, settings) == (0, 0)  # backing off: not due yet
    with db.begin() as s:
        s.execute(update(OutboxEvent).values(next_attempt_at=None))
    assert deliver_pending(db, settings) == (1, 0)
    assert state.received[0]["alert_id"] == "a1" and state.received[0]["event"] == "chatvault.alert"
    assert deliver_pending(db, settings) == (0, 0)  # delivered once only
