"""Notifications: written once per deadline and stage, kept when SMTP fails, sent later."""

from __future__ import annotations

import socket
from datetime import date

from simpul.obligations import outbox
from tests.obligations.conftest import World
from tests.obligations.smtp_sink import SmtpSink


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_failed_delivery_is_recorded_and_retried(world: World) -> None:
    world.at(date(2024, 8, 10))  # PKS 003 implementation due 28 August: "segera"
    with world.session() as s:
        made = outbox.queue(s, world.settings, world.clock)
    impl = [
        m
        for m in made
        if "Implementasi teknis" in m.subject and m.agreement_id == "pks-dukcapil-bkn"
    ]
    assert len(impl) == 1 and impl[0].to_address == "kerja-sama@bkn.simpul.example"
    down = outbox.SmtpSettings(host="127.0.0.1", port=closed_port(), timeout=2)
    with world.session() as s:
        result = outbox.deliver(s, down, world.clock)
        assert result.sent == 0 and result.failed == len(made)
        assert all(m.last_error and m.attempts == 1 for m in outbox.pending(s))
    # Late now: a second message for the new stage, none repeated for the old one.
    world.at(date(2024, 9, 1))
    with world.session() as s:
        later = outbox.queue(s, world.settings, world.clock)
    impl_late = [
        m for m in later
        if "Implementasi teknis" in m.subject and m.agreement_id == "pks-dukcapil-bkn"
    ]  # fmt: skip
    assert len(impl_late) == 1 and "telah melewati tenggat" in impl_late[0].subject
    with SmtpSink() as sink, world.session() as s:
        result = outbox.deliver(
            s, outbox.SmtpSettings(host="127.0.0.1", port=sink.port), world.clock
        )
        assert result.failed == 0 and result.sent == len(made) + len(later)
        assert outbox.pending(s) == []
    assert len(sink.messages) == len(made) + len(later)
