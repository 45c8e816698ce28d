"""One normalisation of the datetimes Airflow hands out, shared by every caller."""

from __future__ import annotations

from datetime import datetime, timezone


def plain_utc(value: datetime) -> datetime:
    """Return an aware datetime as a plain stdlib datetime in UTC.

    Airflow hands out pendulum DateTimes; their differences are pendulum
    Intervals, which do not mix with stdlib timedeltas further down.
    """
    value = value.astimezone(timezone.utc)
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=timezone.utc,
    )  # fmt: skip
