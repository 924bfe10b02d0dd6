"""The SMTP side of SLA alerts: the sender (Airflow's SMTP provider) and the probe the DAG runs first.

The probe tells two situations apart that must not look alike: an SMTP connection nobody has defined yet
(a fresh deployment: alerts wait, unmarked, and go out on the first run after it exists — the task skips
and says so) and one that is defined but unusable or could not be looked up (the task fails, so the
on-call person sees it instead of a quiet string of skipped runs while breaches pile up).
"""

from __future__ import annotations

import logging
import os

from smarketing.errors import ConfigurationError
from smarketing.sla.alerts import AlertMessage

log = logging.getLogger(__name__)


class SmtpConnectionBroken(ConfigurationError):
    """The SMTP connection is defined but cannot be used as it stands."""


class SmtpConnectionMissing(ConfigurationError):
    """No SMTP connection is defined under the id the agreement names: alerts cannot go out yet."""

    def __init__(self, conn_id: str, waiting: int) -> None:
        super().__init__(
            f"SMTP connection '{conn_id}' is not defined: {waiting} breach alert(s) wait unsent (they go out "
            f"on the first run after it exists). Add it in the Airflow UI (Admin > Connections, type smtp) "
            f"or set AIRFLOW_CONN_{conn_id.upper()}=smtp://USER:PASSWORD@HOST:587; another id goes in "
            "sla.alerts.smtp_conn_id"
        )
        self.conn_id = conn_id


class SmtpSender:
    """Sends through Airflow's SMTP provider (its notifier, on the `smtp_conn_id` connection)."""

    def __init__(self, smtp_conn_id: str = "smtp_default", from_email: str | None = None) -> None:
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email

    def send(self, message: AlertMessage) -> None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifier = SmtpNotifier(
            to=message.to,
            from_email=self.from_email,
            subject=message.subject,
            html_content=message.html,
            smtp_conn_id=self.smtp_conn_id,
            custom_headers={"Message-ID": message.message_id},
        )
        # notify() directly: the body is final HTML, not a template to render against a task context.
        notifier.notify({})


def smtp_connection_defined(conn_id: str) -> bool:
    """Whether Airflow has the SMTP connection `conn_id`.

    Args:
        conn_id: the Airflow connection id (`sla.alerts.smtp_conn_id`).

    Returns:
        True when it is defined and names a host; False only when no secrets backend defines it.

    Raises:
        SmtpConnectionBroken: it is defined but has no host, or its `AIRFLOW_CONN_<ID>` variable is set
            and Airflow could not read it (Airflow reports that as "isn't defined").
        Exception: any other lookup error (access denied by the API server, ...), as raised.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(conn_id)
    except AirflowNotFoundException:
        if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
            raise SmtpConnectionBroken(
                f"SMTP connection {conn_id!r}: AIRFLOW_CONN_{conn_id.upper()} is set but Airflow cannot read it "
                "(a connection URI or JSON is expected)"
            ) from None
        return False
    if not connection.host:
        raise SmtpConnectionBroken(f"SMTP connection {conn_id!r} has no host")
    return True
