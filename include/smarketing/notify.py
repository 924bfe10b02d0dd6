"""Failure notifications: one e-mail per failed task (or missed deadline) of a smarketing DAG.

`FailureNotifier` is an Airflow notifier: every smarketing DAG gets it as `on_failure_callback` through
`airflow_support.DEFAULT_ARGS`, and a Deadline Alert can call it too. It sends through the SMTP
connection of the SLA alerts (`sla.alerts.smtp_conn_id`), so a deployment configures mail once.

Who receives it, in this order: the Airflow Variable `smarketing_failure_alerts` (or the environment
variable SMARKETING_FAILURE_ALERTS), JSON `{"to": "a@x, b@y", "smtp_conn_id": ..., "from_email": ...}`;
else the team address of the SLA alerts (`sla.alerts.team`, after its own Variable override). A broken
agreement must not silence the notice of the task that reports it, so the agreement is read on a
best-effort basis and the Variable alone is enough.

Nothing here writes an address into a log line: a mail server's refusal quotes the recipient, so every
error text is masked before it is logged, and the exception is not re-raised (Airflow would log it raw).
"""

from __future__ import annotations

import hashlib
import html
import logging
import socket
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from smarketing.privacy import mask_emails

log = logging.getLogger(__name__)

FAILURE_VARIABLE = "smarketing_failure_alerts"
FAILURE_ENV = "SMARKETING_FAILURE_ALERTS"
DEFAULT_SMTP_CONN_ID = "smtp_default"
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Route:
    """Where a failure notice goes: the SMTP connection, the sender, the recipients (comma-separated)."""

    smtp_conn_id: str = DEFAULT_SMTP_CONN_ID
    from_email: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class Failure:
    """What a notice says, read from an Airflow callback context (every field is safe to show)."""

    dag_id: str
    run_id: str | None
    task_id: str | None
    try_number: int | None
    log_url: str | None
    error: str

    @property
    def what(self) -> str:
        return f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id


def first_line(error: object) -> str:
    """The first non-blank line of an error, its type named, e-mail addresses masked, length capped.

    Args:
        error: the exception from the callback context, a message string, or None.

    Returns:
        e.g. "ConfigError: config/smarketing.yaml: scoring.version: field required"; "" for None.
    """
    if error is None:
        return ""
    text = str(error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if isinstance(error, BaseException):
        line = f"{type(error).__name__}: {line}" if line else type(error).__name__
    line = mask_emails(line)
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def failure_from_context(context: Any) -> Failure:
    """The failure an Airflow callback context describes (a task's, or a DAG run's without `ti`).

    Args:
        context: the mapping Airflow passes to `on_failure_callback` or a deadline callback.

    Returns:
        A `Failure`; fields the context lacks are None.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None)
    error = context.get("exception") or context.get("reason")
    return Failure(
        dag_id=str(dag_id or "unknown DAG"),
        run_id=getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None) or context.get("run_id"),
        task_id=getattr(ti, "task_id", None),
        try_number=getattr(ti, "try_number", None),
        log_url=_log_url(ti),
        error=first_line(error),
    )


def _log_url(ti: Any) -> str | None:
    try:
        return getattr(ti, "log_url", None)
    except Exception:  # a half-built task instance: the notice still goes out, without the link
        return None


def render(failure: Failure, from_email: str | None) -> tuple[str, str, str]:
    """(subject, html body, Message-ID) of the notice. The Message-ID is the same for the same try, so a
    mail client shows a repeated callback as one message."""
    subject = f"Smarketing failure: {failure.what}"
    if failure.run_id:
        subject += f" ({failure.run_id})"
    rows = [
        ("DAG", failure.dag_id),
        ("Task", failure.task_id or "(the DAG run)"),
        ("Run", failure.run_id or "-"),
        ("Try", str(failure.try_number) if failure.try_number else "-"),
        ("Error", failure.error or "(no error text)"),
    ]
    cells = "".join(
        f"<tr><th align='left'>{name}</th><td>{html.escape(value)}</td></tr>" for name, value in rows
    )
    link = (
        f'<p><a href="{html.escape(failure.log_url, quote=True)}">Open the log in Airflow</a></p>'
        if failure.log_url
        else ""
    )
    body = f"<p>A smarketing pipeline step failed.</p><table>{cells}</table>{link}"
    key = f"{failure.dag_id}|{failure.run_id}|{failure.task_id}|{failure.try_number}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    domain = from_email.rpartition("@")[2] if from_email and "@" in from_email else "smarketing.local"
    return subject, body, f"<failure.{digest}@{domain}>"


def configured_route() -> Route:
    """The route by the lookup order of the module docstring (Variable, then the agreement's SLA alerts)."""
    from smarketing.run_settings import json_run_setting

    extra = json_run_setting(None, FAILURE_VARIABLE, FAILURE_ENV) or {}
    sla = _sla_route()
    return Route(
        smtp_conn_id=extra.get("smtp_conn_id") or sla.smtp_conn_id,
        from_email=extra.get("from_email") or sla.from_email,
        to=extra.get("to") or sla.to,
    )


def _sla_route() -> Route:
    from smarketing.config import ConfigError, load_config
    from smarketing.sla.alerts import with_overrides
    from smarketing.sla.settings import settings_from_agreement

    try:
        alerts = with_overrides(settings_from_agreement(load_config()).alerts)
    except (ConfigError, ValueError, OSError) as exc:
        log.warning("failure notice: the SLA alert settings are unreadable (%s)", mask_emails(str(exc)))
        return Route()
    return Route(smtp_conn_id=alerts.smtp_conn_id, from_email=alerts.from_email, to=alerts.team_to)


def _connection_sender(conn_id: str) -> str:
    """The sender the SMTP connection names (`from_email` in its extra), else one for this host: a
    broken agreement leaves no `sla.alerts.from_email`, and the mail must still go out."""
    from airflow.sdk import Connection

    extra = Connection.get(conn_id).extra_dejson
    return extra.get("from_email") or f"smarketing-pipelines@{socket.getfqdn()}"


class FailureNotifier(BaseNotifier):
    """Mails a failed task's DAG, task, run, log link and first error line through the SLA alerts' SMTP.

    Args:
        route: where to send; None looks it up at each notice (`configured_route`), so a Variable
            changed in the UI applies to the next failure without redeploying the DAGs.
    """

    def __init__(self, route: Route | None = None) -> None:
        super().__init__()
        self.route = route

    def notify(self, context: Any) -> None:
        failure = failure_from_context(context)
        try:
            self.send(failure)
        except Exception as exc:  # never re-raised: Airflow would log the raw text, addresses included
            log.error(
                "failure notice for %s not sent: %s: %s",
                failure.what,
                type(exc).__name__,
                mask_emails(str(exc), keep_domain=False),
            )

    def send(self, failure: Failure) -> bool:
        """Send the notice; False (and a warning) when no recipient is configured."""
        from smarketing.sla.alerts import AlertMessage
        from smarketing.sla.smtp import SmtpSender

        route = self.route or configured_route()
        if not route.to:
            log.warning(
                "failure notice for %s not sent: no recipient (set the Airflow Variable %s or sla.alerts.team)",
                failure.what,
                FAILURE_VARIABLE,
            )
            return False
        from_email = route.from_email or _connection_sender(route.smtp_conn_id)
        subject, body, message_id = render(failure, from_email)
        SmtpSender(route.smtp_conn_id, from_email).send(
            AlertMessage(to=route.to, subject=subject, html=body, message_id=message_id)
        )
        log.info("failure notice for %s sent through %s", failure.what, route.smtp_conn_id)
        return True
