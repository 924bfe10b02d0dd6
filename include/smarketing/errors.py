"""Errors a user can act on. The CLI prints them as one clear line, without a traceback."""


class SmarketingError(Exception):
    """Base class: the message says what is wrong and where (file, key path, row).

    `exit_code` is what the `smarketing` command exits with (1 unless a subclass documents another).
    """

    exit_code = 1

    def one_line(self) -> str:
        """The message on a single line, as the CLI prints it (logs and Airflow keep `str(self)`)."""
        return "; ".join(part.strip(" -") for part in str(self).splitlines() if part.strip(" -"))


class ConfigurationError(SmarketingError):
    """What is configured cannot work as it stands: the agreement, a mapping or quality file, a source's
    settings, a connection (missing or unusable), a run's param or setting. The same run would fail the
    same way again, so Airflow fails the task at once instead of retrying it
    (`smarketing.airflow_support.RETRY_POLICY`); the message says what to change and where.
    """
