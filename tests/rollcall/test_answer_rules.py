"""The answer path's pure rules: 人机分离, on time / late / missed, what counts as an image."""

from datetime import UTC, datetime, timedelta

from rollcall.answers import is_separated, status_at
from rollcall.models import TargetStatus
from rollcall.photos import image_type
from tracker_ingest.tracks import haversine_m


def test_separation_allows_for_both_accuracies():
    assert not is_separated(600, 50, 60, separation_m=500)  # could be 490 m apart
    assert is_separated(611, 50, 60, separation_m=500)
    assert is_separated(501, 0, None, separation_m=500)  # a fix with no accuracy counts as exact
    assert not is_separated(500, 0, None, separation_m=500)


def test_haversine_distance():
    assert haversine_m(41.30, 123.77, 41.30, 123.77) == 0
    assert abs(haversine_m(41.30, 123.77, 41.31, 123.77) - 1111.95) < 0.1  # 0.01° of latitude


def test_status_by_deadline_and_close():
    deadline = datetime(2026, 12, 3, 8, 10, tzinfo=UTC)
    closes = deadline + timedelta(minutes=20)
    assert status_at(deadline, deadline, closes) == TargetStatus.answered
    assert status_at(deadline + timedelta(seconds=1), deadline, closes) == TargetStatus.late
    assert status_at(closes, deadline, closes) == TargetStatus.late
    assert status_at(closes + timedelta(seconds=1), deadline, closes) == TargetStatus.missed


def test_images_are_known_by_their_magic_bytes():
    assert image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_type(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_type(b"GIF89a") is None and image_type(b"") is None
