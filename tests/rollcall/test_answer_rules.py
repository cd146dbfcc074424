"""The answer path's pure rules: 人机分离, on time / late / missed, what counts as an image."""

from datetime import UTC, datetime, timedelta

from rollcall.answers import is_separated, status_at
from rollcall.config import RollCallSettings
from rollcall.models import TargetStatus
from rollcall.photos import image_type
from tracker_ingest.tracks import haversine_m


def test_separation_allows_for_scaled_accuracies_and_movement():
    settings = RollCallSettings(accuracy_scale=2.5, tracker_speed_mps=10, unknown_accuracy_m=100, separation_m=500)
    # 2.5 × (10 + 20) = 75 m of accuracy, no time apart.
    assert not is_separated(575, 10, 20, 0, settings)
    assert is_separated(576, 10, 20, 0, settings)
    # A cell fix 2 km off, accurate to 1 km: well within its scaled accuracy.
    assert not is_separated(2000, 10, 1000, 0, settings)
    # Moving at up to 10 m/s: 60 s between the fix and the answer allow another 600 m.
    assert not is_separated(1175, 10, 20, 60, settings)
    assert is_separated(1176, 10, 20, 60, settings)
    # A fix with no accuracy counts as 100 m.
    assert is_separated(801, 20, None, 0, settings) and not is_separated(800, 20, None, 0, settings)


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
