"""Errors raised by the mapping rules.

A value from the CRM that cannot be read raises a `CrmValueError`: the loader
quarantines that one record with the message as its reason and goes on. The
other errors here are settings or programming mistakes that should stop a run.
"""

from __future__ import annotations

from roistat.errors import RoistatError, SettingsError

# Values end up in task logs and in the rejected-records table; a few dozen
# characters identify a bad value without copying a whole field into the log.
_SHOWN_CHARS = 60


def describe_value(value: object, limit: int = _SHOWN_CHARS) -> str:
    """Return a short, printable repr of a raw value for an error message."""
    shown = repr(value)
    if len(shown) > limit:
        shown = f"{shown[:limit]}… ({len(str(value))} characters)"
    return shown


class CrmValueError(RoistatError, ValueError):
    """A value read from the CRM cannot be used; the record is rejected, not guessed.

    `reason` says what is wrong in plain words, `value` is the raw value and
    `column`, when known, the CRM column it came from.
    """

    def __init__(self, value: object, reason: str, *, column: str | None = None) -> None:
        self.value = value
        self.reason = reason
        self.column = column
        where = f"column {column!r}: " if column else ""
        super().__init__(f"{where}{reason} (value {describe_value(value)})")


class MoneyValueError(CrmValueError):
    """A money amount cannot be read unambiguously."""


class DateValueError(CrmValueError):
    """A date-time from the CRM is not a valid, zoned ISO 8601 value."""


class LookupIdError(CrmValueError):
    """A lookup value is not a GUID."""


class TextValueError(CrmValueError):
    """A text value cannot be stored in PostgreSQL."""


class MissingColumnError(RoistatError, LookupError):
    """A configured column is absent from a CRM row: it was not selected or does not exist."""

    def __init__(self, column: str) -> None:
        self.column = column
        super().__init__(
            f"column {column!r} is missing from the CRM row; "
            "check the setting that names it against the CRM's $metadata"
        )


class RuleInputError(RoistatError, ValueError):
    """The caller passed a rule an argument it cannot use: a bug, not bad data."""


class UnknownEntityError(RuleInputError):
    """An entity name other than `lead` or `order` reached the rules."""


class FilterPatternError(RoistatError, ValueError):
    """The filter's regular expression is invalid or cannot run on the linear-time engine."""

    def __init__(self, pattern: object, problem: str) -> None:
        self.pattern = pattern
        self.problem = problem
        super().__init__(f"filter.value {describe_value(pattern, 200)}: {problem}")


class StatusGroupError(SettingsError):
    """The `status_groups` setting names an unknown group or holds a bad entry."""
