"""Retention: every table holding positions or personal data loses its rows past their setting, in
the domain that owns them; alerts stay as a record but lose their coordinates with the fixes. Rows are
back-dated with SQL and each domain's purge is called as its worker calls it."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from core.db import session_scope
from tests.factories import CENTRE

POINT = {"lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 12.0, "distance_m": 480.0, "zone_id": 0}


@pytest.fixture
def person(admin_api):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    zone = admin_api.home_zone(person["id"])
    return {"id": person["id"], "zone_id": zone["id"]}


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _alert(session, person: dict, key: str, last_at: datetime, ended_at: datetime) -> int:
    evidence = {"first": POINT | {"reason": "left"}, "last": POINT | {"reason": "still out"}, "count": 2}
    alert_id = session.execute(
        text("""
        INSERT INTO alert (supervisee_id, rule, level, status, dedup_key, started_at, last_evidence_at, ended_at,
                           resolved_at, evidence)
        VALUES (:p, 'inclusion_exit', 'yellow', 'resolved', :key, :at, :at, :ended, :ended, CAST(:evidence AS jsonb))
        RETURNING id"""),
        {"p": person["id"], "key": key, "at": last_at, "ended": ended_at, "evidence": _json(evidence)},
    ).scalar_one()
    session.execute(
        text(
            "INSERT INTO alert_event (alert_id, at, kind, actor, detail) VALUES (:a, :at, 'opened', 'system', "
            "CAST(:detail AS jsonb))"
        ),
        {"a": alert_id, "at": last_at, "detail": _json({"evidence": POINT})},
    )
    return alert_id


def _json(value) -> str:
    return orjson.dumps(value).decode()


def test_each_table_is_purged_past_its_retention_and_alerts_keep_all_but_coordinates(person, settings, db):
    from alerts import retention as alert_retention
    from geofence import service as geofence_service
    from tracker_ingest import positions

    pid, zone_id = person["id"], person["zone_id"]
    fix_days = settings.fix_retention_days
    old = {
        "radio_report": _days_ago(settings.radio_report_retention_days + 1),
        "sighting": _days_ago(settings.sighting_retention_days + 1),
        "last_position": _days_ago(settings.last_position_retention_days + 1),
        "unknown_device": _days_ago(settings.unknown_device_retention_days + 1),
    }
    young = _days_ago(1)
    fix_old_us = int(_days_ago(fix_days + 1).timestamp() * 1e6)
    rows = {
        "INSERT INTO radio_report (supervisee_id, ts, device_id, radio, received_at) VALUES (:p, :ts, 1, '{}', :ts)": [
            {"p": pid, "ts": old["radio_report"]},
            {"p": pid, "ts": young},
        ],
        "INSERT INTO sighting (camera_id, supervisee_id, ts, kind, confidence, received_at)"
        " VALUES (-1, :p, :ts, 'sighting', 0.9, :ts)": [{"p": pid, "ts": old["sighting"]}, {"p": pid, "ts": young}],
        "INSERT INTO last_position (supervisee_id, device_id, ts, lat, lon, source)"
        " VALUES (:p, 1, :ts, 41.3, 123.7, 'gps')": [{"p": pid, "ts": old["last_position"]}, {"p": -pid, "ts": young}],
        "INSERT INTO unknown_device (protocol, device_key, first_seen_at, last_seen_at, attempts, last_remote_addr)"
        " VALUES ('osmand', :key, :ts, :ts, 1, '192.0.2.7')": [
            {"key": f"old-{pid}", "ts": old["unknown_device"]},
            {"key": f"young-{pid}", "ts": young},
        ],
        "INSERT INTO geofence_state (supervisee_id, zone_id, last_fix_us, state) VALUES (:p, :z, :us, '{}')": [
            {"p": pid, "z": zone_id, "us": fix_old_us}
        ],
        "INSERT INTO geofence_noise (supervisee_id, last_us, last_lat, last_lon, last_var, median, pairs)"
        " VALUES (:p, :us, 41.3, 123.7, 1, 1, 1)": [{"p": pid, "us": fix_old_us}],
    }
    with session_scope() as session:
        for sql, values in rows.items():
            session.execute(text(sql), values)
        stripped = _alert(session, person, f"ret-old-{pid}", _days_ago(fix_days + 1), _days_ago(fix_days))
        kept = _alert(session, person, f"ret-young-{pid}", young, young)
        gone = _alert(
            session,
            person,
            f"ret-gone-{pid}",
            _days_ago(settings.alert_retention_days + 2),
            _days_ago(settings.alert_retention_days + 1),
        )

    with session_scope() as session:
        purged = positions.purge_expired(session, settings=settings)
        assert all(purged[table] >= 1 for table in old)
        assert (
            geofence_service.purge_expired(
                session=session, retention_days=fix_days, batch_rows=settings.retention_batch_rows
            )
            >= 2
        )
        assert alert_retention.purge_expired(session=session, settings=settings)["alerts deleted"] >= 1

    def count(table: str, where: str) -> int:
        return db.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), {"p": pid}).scalar_one()

    assert count("radio_report", "supervisee_id = :p") == 1 and count("sighting", "supervisee_id = :p") == 1
    assert count("last_position", "supervisee_id = :p") == 0 and count("last_position", "supervisee_id = -:p") == 1
    assert db.execute(
        text("SELECT device_key FROM unknown_device WHERE device_key LIKE '%-' || :p"), {"p": pid}
    ).scalars().all() == [f"young-{pid}"]
    assert count("geofence_state", "supervisee_id = :p") == 0 and count("geofence_noise", "supervisee_id = :p") == 0

    alerts = dict(db.execute(text("SELECT id, evidence FROM alert WHERE supervisee_id = :p"), {"p": pid}).all())
    assert gone not in alerts and kept in alerts and stripped in alerts
    assert alerts[kept]["last"] == POINT | {"reason": "still out"}
    without = {k: v for k, v in POINT.items() if k not in ("lat", "lon")}
    assert alerts[stripped] == {
        "first": without | {"reason": "left"},
        "last": without | {"reason": "still out"},
        "count": 2,
    }
    details = dict(
        db.execute(
            text("SELECT alert_id, detail FROM alert_event WHERE alert_id IN (:a, :b)"), {"a": stripped, "b": kept}
        ).all()
    )
    assert details == {stripped: {"evidence": without}, kept: {"evidence": POINT}}
