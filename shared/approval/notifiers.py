"""Where approval requests go: the log (default), a Slack incoming webhook, or e-mail.

The links are credentials, so the log notifier never logs them: it logs that a request went
out and, when POSTGATE_OUTBOX_DIR is set (the local stack), writes the message to a file there.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import requests

from shared.errors import ConfigError, PermanentError, TransientError
from shared.runtime.config_model import Config
from shared.runtime.logging import log_event
from shared.stores.protocols import SecretStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalRequest:
    content_id: str
    campaign: str
    recipient: str
    preview: str
    targets: list[str]
    approve_url: str
    reject_url: str

    def text(self) -> str:
        return (f"Postgate: a post for campaign '{self.campaign}' needs your approval.\n\n{self.preview}\n\n"
                f"Targets: {', '.join(self.targets)}\nReview and approve: {self.approve_url}\nReject: {self.reject_url}\n")


@dataclass(frozen=True)
class DecisionNotice:
    """Tells whoever asked for the content what the approver decided, and why when they said."""

    content_id: str
    campaign: str
    recipient: str
    decision: str
    decided_by: str
    reason: str | None
    preview: str

    def text(self) -> str:
        why = f"Reason: {self.reason}" if self.reason else "No reason was given."
        return (f"Postgate: the post for campaign '{self.campaign}' was {self.decision} by {self.decided_by}.\n{why}\n\n"
                f"{self.preview}\n")


class Notifier(Protocol):
    def send(self, request: ApprovalRequest) -> None: ...

    def notify(self, notice: DecisionNotice) -> None: ...


class LogNotifier:
    def __init__(self, outbox_dir: str | None = None):
        self._outbox = Path(outbox_dir) if outbox_dir else None

    def send(self, request: ApprovalRequest) -> None:
        self._write(f"{request.content_id}--{request.recipient}.json", request.__dict__)
        log_event(log, logging.INFO, "approval request ready", recipient=request.recipient,
                  outbox=str(self._outbox) if self._outbox else None)

    def notify(self, notice: DecisionNotice) -> None:
        self._write(f"{notice.content_id}--{notice.decision}--{notice.recipient}.json", notice.__dict__)
        log_event(log, logging.INFO, f"requester told: content {notice.decision}", recipient=notice.recipient)

    def _write(self, filename: str, message: dict) -> None:
        if not self._outbox:
            return
        self._outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Approval links are credentials: readable by the owner only, whatever the umask says.
        fd = os.open(self._outbox / filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(message, indent=2))


class SlackNotifier:
    """Slack incoming webhook: POST JSON {text}; 200 "ok" on success."""

    def __init__(self, webhook_url: str, timeout: float = 10.0):
        self._url = webhook_url
        self._timeout = timeout

    def send(self, request: ApprovalRequest) -> None:
        body = {
            "text": f"Post for {request.campaign} needs approval",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": request.preview[:2900]}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "Targets: " + ", ".join(request.targets)}]},
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Review & approve"}, "url": request.approve_url, "style": "primary"},
                    {"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "url": request.reject_url, "style": "danger"},
                ]},
            ],
        }
        self._post(body)
        log_event(log, logging.INFO, "approval request sent to slack", recipient=request.recipient)

    def notify(self, notice: DecisionNotice) -> None:
        self._post({"text": notice.text()[:3000]})
        log_event(log, logging.INFO, f"requester told on slack: content {notice.decision}", recipient=notice.recipient)

    def _post(self, body: dict) -> None:
        try:
            response = requests.post(self._url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            raise TransientError(f"slack webhook unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"slack webhook answered {response.status_code}")
        if response.status_code != 200:
            raise PermanentError(f"slack webhook refused the message: {response.status_code} {response.text[:200]}")


class SmtpNotifier:
    def __init__(self, host: str, port: int, sender: str, password: str | None = None, timeout: float = 20.0):
        self._host, self._port, self._sender, self._password, self._timeout = host, port, sender, password, timeout

    def send(self, request: ApprovalRequest) -> None:
        self._mail(request.recipient, f"[Postgate] Approve post for {request.campaign}", request.text())
        log_event(log, logging.INFO, "approval request e-mailed", recipient=request.recipient)

    def notify(self, notice: DecisionNotice) -> None:
        self._mail(notice.recipient, f"[Postgate] Post for {notice.campaign} {notice.decision}", notice.text())
        log_event(log, logging.INFO, f"requester e-mailed: content {notice.decision}", recipient=notice.recipient)

    def _mail(self, recipient: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = recipient
        message.set_content(text)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._port == 587:
                    smtp.starttls()
                if self._password:
                    smtp.login(self._sender, self._password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            raise TransientError(f"smtp {self._host}:{self._port} unreachable: {type(exc).__name__}") from None
        except smtplib.SMTPRecipientsRefused:
            raise PermanentError(f"smtp refused recipient {recipient}") from None


def notifier_from_config(config: Config, secrets: SecretStore) -> Notifier:
    if config.notifier == "slack":
        return SlackNotifier(secrets.access(config.slack_webhook_secret))
    if config.notifier == "smtp":
        if not (config.smtp_host and config.smtp_from):
            raise ConfigError("POSTGATE_SMTP_HOST and POSTGATE_SMTP_FROM are required when POSTGATE_NOTIFIER=smtp")
        password = secrets.access(config.smtp_password_secret) if config.smtp_password_secret else None
        return SmtpNotifier(config.smtp_host, config.smtp_port, config.smtp_from, password)
    return LogNotifier(os.environ.get("POSTGATE_OUTBOX_DIR"))
