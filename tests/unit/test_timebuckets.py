from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr_survey.db.timebuckets import HOUR, QUARTER_HOUR, bucket_label, offset_segments, slot_seconds

YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("zone", "size"),
    [
        ("UTC", HOUR),
        ("Europe/Berlin", HOUR),  # DST, but whole hours, changing on the hour
        ("America/St_Johns", QUARTER_HOUR),  # UTC-03:30 / -02:30
        ("Asia/Kolkata", QUARTER_HOUR),  # UTC+05:30
        ("Asia/Kathmandu", QUARTER_HOUR),  # UTC+05:45
        ("Australia/Lord_Howe", QUARTER_HOUR),  # +10:30, half an hour of DST
    ],
)
def test_slot_is_an_hour_only_where_no_local_bucket_splits_one(zone: str, size: int) -> None:
    assert slot_seconds(ZoneInfo(zone), *YEAR) == size


def test_offset_segments_find_each_dst_change_to_the_minute() -> None:
    assert offset_segments(ZoneInfo("Europe/Berlin"), *YEAR) == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), timedelta(hours=1)),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), timedelta(hours=2)),
        (None, timedelta(hours=1)),
    ]


def test_bucket_label_reads_local_wall_clock_seconds_in_the_zone() -> None:
    midnight = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())
    assert bucket_label(midnight, ZoneInfo("Asia/Kolkata")) == "2026-11-26T00:00:00+05:30"
    assert bucket_label(midnight, ZoneInfo("Europe/Berlin")) == "2026-11-26T00:00:00+01:00"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "America/Havana"])
def test_bucket_label_is_datetime_with_fold_0_around_every_change(zone: str) -> None:
    """Every quarter hour of 2026 local time, the DST gaps and repeated hours included (Havana changes at
    midnight): the same text as a datetime in the zone with fold=0."""
    tz = ZoneInfo(zone)
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    for value in range(start, start + 366 * 86400, QUARTER_HOUR):
        assert bucket_label(value, tz) == datetime.fromtimestamp(value, UTC).replace(tzinfo=tz).isoformat()
    assert bucket_label(int(datetime(2026, 3, 29, 2, 30, tzinfo=UTC).timestamp()), ZoneInfo("Europe/Berlin")) == (
        "2026-03-29T02:30:00+01:00"  # a wall-clock time Berlin skips: the offset before the change
    )
