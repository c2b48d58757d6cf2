"""Notifications: deadlines that are near or late become outbox messages (once per deadline
and stage), delivered by SMTP when it is configured. Nothing is sent from inside a request:
`deliver` runs from the CLI (or a scheduler) and records each attempt."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from simpul.access.models import Institution
from simpul.config import Settings
from simpul.kit.clock import Clock
from simpul.kit.documents import tanggal_indonesia
from simpul.obligations.deadlines import Deadline, Status
from simpul.obligations.models import OutboxMessage
from simpul.obligations.service import deadlines


class SmtpSettings(BaseSettings):
    """`SIMPUL_SMTP_*` from the environment or DATA_DIR/simpul.env; no host: no delivery."""

    model_config = SettingsConfigDict(env_prefix="SIMPUL_SMTP_", extra="ignore")

    host: str | None = None
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    sender: str = "simpul@localhost"
    timeout: float = 10.0


def smtp_settings(settings: Settings) -> SmtpSettings:
    env_file: Path = settings.data_dir / "simpul.env"
    if env_file.exists():
        return SmtpSettings(_env_file=env_file)
    return SmtpSettings()


STAGE = {Status.SEGERA: "segera", Status.TERLAMBAT: "terlambat"}


def _message(d: Deadline, institution: Institution) -> tuple[str, str]:
    due = tanggal_indonesia(d.due_on) if d.due_on else "-"
    state = "telah melewati tenggat" if d.status is Status.TERLAMBAT else "segera jatuh tempo"
    subject = f"[Simpul] {d.label} — {d.agreement_id}: {state} ({due})"
    lines = [
        f"Yth. {institution.contact_name}, {institution.contact_position}",
        f"{institution.name}",
        "",
        f"Kewajiban berikut dalam perjanjian {d.agreement_id} {state}:",
        f"  Kewajiban : {d.label} ({d.clause})",
        f"  Tenggat   : {due}",
    ]
    if d.outstanding is not None:
        lines.append(f"  Belum dipenuhi: {d.outstanding} subjek")
    if d.note:
        lines.append(f"  Keterangan: {d.note}")
    lines += ["", "Pesan ini dikirim otomatis oleh Simpul."]
    return subject, "\n".join(lines)


def queue(session: Session, settings: Settings, clock: Clock) -> list[OutboxMessage]:
    """Write a message per obligor for each deadline now near or late, once per stage."""
    existing = set(session.scalars(select(OutboxMessage.key)))
    made: list[OutboxMessage] = []
    for d in deadlines(session, settings, clock, open_only=True):
        stage = STAGE.get(d.status)
        if stage is None:
            continue
        for code in d.obligors:
            key = f"{d.key()}|{d.due_on}|{stage}|{code}"
            if key in existing:
                continue
            inst = session.get(Institution, code)
            if inst is None:
                continue
            subject, body = _message(d, inst)
            msg = OutboxMessage(
                key=key,
                agreement_id=d.agreement_id,
                institution=code,
                to_address=inst.contact_email,
                subject=subject,
                body=body,
                created_at=clock.now(),
                attempts=0,
            )
            session.add(msg)
            existing.add(key)
            made.append(msg)
    session.flush()
    return made


def pending(session: Session) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
    return session.scalars(stmt).all()


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    skipped: bool  # no SMTP host configured


def deliver(session: Session, smtp: SmtpSettings, clock: Clock, *, limit: int = 500) -> Delivery:
    """Send pending messages; each success or failure is recorded on its row."""
    if not smtp.host:
        return Delivery(0, 0, True)
    todo = list(pending(session))[:limit]
    if not todo:
        return Delivery(0, 0, False)
    sent = failed = 0
    try:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except OSError as exc:
        for msg in todo:
            msg.attempts += 1
            msg.last_error = f"koneksi SMTP gagal: {exc}"[:500]
        session.flush()
        return Delivery(0, len(todo), False)
    with client:
        if smtp.starttls:
            client.starttls()
        if smtp.username and smtp.password:
            client.login(smtp.username, smtp.password.get_secret_value())
        for msg in todo:
            email = EmailMessage()
            email["From"] = smtp.sender
            email["To"] = msg.to_address
            email["Subject"] = msg.subject
            email["Message-ID"] = f"<simpul-kewajiban-{msg.id}@{smtp.sender.split('@')[-1]}>"
            email.set_content(msg.body)
            msg.attempts += 1
            try:
                client.send_message(email)
            except smtplib.SMTPException as exc:
                msg.last_error = str(exc)[:500]
                failed += 1
                continue
            msg.sent_at = clock.now()
            msg.last_error = None
            sent += 1
    session.flush()
    return Delivery(sent, failed, False)
