from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from roistat.errors import SettingsError
from roistat.sync_window import plan_window

UTC = timezone.utc
DIS = datetime(2025, 5, 10, 12, 15, tzinfo=UTC)
DIE = datetime(2025, 5, 10, 12, 30, tzinfo=UTC)
WATERMARK = datetime(2025, 5, 10, 12, 20, tzinfo=UTC)


def _plan(**kwargs):
    base = dict(
        params={},
        data_interval_start=None,
        data_interval_end=None,
        run_type="manual",
        watermark=None,
        lookback_hours=24,
    )
    base.update(kwargs)
    return plan_window(**base)


def test_full_refresh_reads_everything_and_reconciles():
    w = _plan(params={"full_refresh": True}, data_interval_start=DIS, data_interval_end=DIE)
    assert (w.start, w.end, w.mode, w.reconcile) == (None, None, "full_refresh", True)


def test_params_window_is_widened_by_the_lookback():
    w = _plan(params={"start": "2025-01-01T00:00:00Z", "end": "2025-01-02"}, lookback_hours=2)
    assert w.start == datetime(2024, 12, 31, 22, tzinfo=UTC)
    assert w.end == datetime(2025, 1, 2, tzinfo=UTC)
    assert w.mode == "params"


def test_params_take_offsets_to_utc():
    w = _plan(params={"start": "2025-01-01T03:00:00+03:00"}, lookback_hours=0)
    assert w.start == datetime(2025, 1, 1, tzinfo=UTC)
    assert w.end is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            {"start": "yesterday"}, "params.start: 'yesterday' is not an ISO datetime", id="garbage"
        ),
        pytest.param(
            {"start": "2025-02-01", "end": "2025-01-01"}, "is not before end", id="reversed"
        ),
        pytest.param({"start": "2025-02-01", "end": "2025-02-01"}, "is not before end", id="empty"),
    ],
)
def test_bad_params_are_named(params, message):
    with pytest.raises(SettingsError, match=message):
        _plan(params=params)


def test_backfill_reads_exactly_its_interval_plus_lookback():
    w = _plan(
        data_interval_start=DIS,
        data_interval_end=DIE,
        run_type="backfill",
        watermark=DIS - timedelta(days=30),
        lookback_hours=1,
    )
    assert (w.start, w.end, w.mode) == (DIS - timedelta(hours=1), DIE, "interval")


def test_scheduled_run_behind_its_watermark_gap_starts_at_the_watermark():
    old = DIS - timedelta(days=3)
    w = _plan(
        data_interval_start=DIS,
        data_interval_end=DIE,
        run_type="scheduled",
        watermark=old,
        lookback_hours=1,
    )
    assert w.start == old - timedelta(hours=1)
    assert w.end == DIE


def test_scheduled_run_with_fresh_watermark_uses_its_interval():
    w = _plan(
        data_interval_start=DIS,
        data_interval_end=DIE,
        run_type="scheduled",
        watermark=WATERMARK,
        lookback_hours=1,
    )
    assert w.start == DIS - timedelta(hours=1)
    assert not w.reconcile


def test_first_scheduled_run_of_a_utc_day_reconciles():
    midnight = datetime(2025, 5, 11, tzinfo=UTC)
    first = _plan(
        data_interval_start=midnight,
        data_interval_end=midnight + timedelta(minutes=15),
        run_type="scheduled",
    )
    last = _plan(
        data_interval_start=midnight - timedelta(minutes=15),
        data_interval_end=midnight,
        run_type="scheduled",
    )
    backfill = _plan(
        data_interval_start=midnight,
        data_interval_end=midnight + timedelta(minutes=15),
        run_type="backfill",
    )
    assert (first.reconcile, last.reconcile, backfill.reconcile) == (True, False, False)


def test_no_interval_continues_from_the_watermark():
    w = _plan(watermark=WATERMARK, lookback_hours=24)
    assert (w.start, w.end, w.mode) == (WATERMARK - timedelta(hours=24), None, "watermark")


def test_first_ever_run_without_interval_reads_everything():
    w = _plan()
    assert (w.start, w.end, w.mode) == (None, None, "initial")


def test_reconcile_param():
    assert _plan(params={"reconcile": True}, watermark=WATERMARK).reconcile


def test_pendulum_datetimes_from_airflow_come_out_as_plain_datetimes():
    import pendulum

    w = _plan(
        data_interval_start=pendulum.datetime(2025, 5, 10, 12, 15, tz="UTC"),
        data_interval_end=pendulum.datetime(2025, 5, 10, 12, 30, tz="Europe/Moscow"),
        run_type="backfill",
        lookback_hours=1,
    )
    assert type(w.start) is datetime and type(w.end) is datetime
    assert w.start == DIS - timedelta(hours=1)
    assert w.end == datetime(2025, 5, 10, 9, 30, tzinfo=UTC)
    # the arithmetic the hook does with a window bound
    assert (w.end - datetime(1, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) > 0


def test_window_bounds_become_odata_literals_from_pendulum_values():
    import pendulum

    from roistat.bpmonline_values import ODataTimestamp

    value = pendulum.datetime(2025, 5, 10, 15, 30, 0, 123456, tz="Europe/Moscow")
    assert ODataTimestamp.from_datetime(value).literal() == "2025-05-10T12:30:00.1234560Z"
