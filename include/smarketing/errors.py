"""Errors a user can act on. The CLI prints them as one clear message, without a traceback."""


class SmarketingError(Exception):
    """Base class: the message says what is wrong and where (file, key path, row)."""

    exit_code = 1
