"""The tracker's positions around a moment, for the roll-call 人机分离 check: the most telling fixes
within the window (precise and near in time), never one from the phone page's own (web) device, for a
batch of people in one query."""

import secrets
from datetime import timedelta

from sqlalchemy import text

from caseload.models import Device, DeviceKind
from core.db import session_scope
from core.timezones import utcnow
from tracker_ingest import tracks


def _fix(session, supervisee_id: int, device_id: int, ts, lat: float, accuracy_m: float = 8) -> None:
    session.execute(text("SELECT fix_ensure_partitions(CAST(:day AS date), CAST(:day AS date))"), {"day": ts.date()})
    session.execute(
        text(
            "INSERT INTO fix (supervisee_id, ts, device_id, lat, lon, accuracy_m, source, received_at) "
            "VALUES (:s, :ts, :d, :lat, 123.77, :accuracy_m, 'gps', :ts)"
        ),
        {"s": supervisee_id, "ts": ts, "d": device_id, "lat": lat, "accuracy_m": accuracy_m},
    )


def test_most_telling_fixes_excluding_the_phone_page(admin_api):
    district = admin_api.district()
    tracked, silent = admin_api.supervisee(district["id"]), admin_api.supervisee(district["id"])
    tracker = admin_api.device(tracked["id"])
    at = utcnow()
    with session_scope() as session:
        web = Device(
            supervisee_id=tracked["id"],
            kind=DeviceKind.web,
            external_id=secrets.token_hex(8),
            token_hash=secrets.token_hex(32),
        )
        session.add(web)
        session.flush()
        _fix(session, tracked["id"], web.id, at, 41.50)  # the phone page itself, at the very moment
        _fix(session, tracked["id"], tracker["id"], at - timedelta(minutes=3), 41.30)
        _fix(session, tracked["id"], tracker["id"], at + timedelta(minutes=2), 41.31)  # nearest in time
        _fix(session, tracked["id"], tracker["id"], at - timedelta(seconds=30), 41.32, accuracy_m=900)  # a cell fix
        _fix(session, tracked["id"], tracker["id"], at - timedelta(minutes=20), 41.40)  # outside the window around `at`
        _fix(session, silent["id"], tracker["id"], at - timedelta(minutes=20), 41.40)
    with session_scope() as session:
        found = tracks.telling_fixes(
            session,
            moments=[(tracked["id"], at), (silent["id"], at), (tracked["id"], at - timedelta(minutes=19))],
            window=timedelta(minutes=10),
            accuracy_scale=2.5,
            speed_mps=10,
            unknown_accuracy_m=100,
        )
    # Uncertainty: 2.5 × 8 + 10 × 120 s = 1,220 m for the GPS fix 2 min after, 1,820 m for the one 3 min
    # before, 2,550 m for the cell fix 30 s before: the two most telling, best first.
    assert [[f.lat for f in fixes] for fixes in found] == [[41.31, 41.30], [], [41.40]]
    assert found[0][0].accuracy_m == 8 and found[0][0].ts == at + timedelta(minutes=2)
