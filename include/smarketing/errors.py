"""Errors a user can act on. The CLI prints them as one clear line, without a traceback."""


class SmarketingError(Exception):
    """Base class: the message says what is wrong and where (file, key path, row).

    `exit_code` is what the `smarketing` command exits with (1 unless a subclass documents another).
    """

    exit_code = 1

    def one_line(self) -> str:
        """The message on a single line, as the CLI prints it (logs and Airflow keep `str(self)`)."""
        return "; ".join(part.strip(" -") for part in str(self).splitlines() if part.strip(" -"))
