"""Watchdog: timers that no incoming record triggers. Signal lost (脱管): no fix for over
``signal_lost_yellow_min`` raises yellow, over ``signal_lost_red_min`` red; a new fix ends it."""

from datetime import timedelta

from alerts import rules, service
from alerts.worker import publish_changes
from caseload import service as caseload_service
from core import bus
from core.config import get_settings
from core.db import AlertLevel, session_scope
from core.logs import configure
from core.timezones import utcnow
from tracker_ingest import positions

log = configure("ewall.watchdog")


def check_signal_lost(session) -> list[service.AlertChange]:
    settings = get_settings()
    now = utcnow()
    yellow_before = now - timedelta(minutes=settings.signal_lost_yellow_min)
    red_before = now - timedelta(minutes=settings.signal_lost_red_min)
    changes = []
    silent = dict(positions.silent_since(session, before=yellow_before))
    active = caseload_service.active_supervisee_ids(session=session, supervisee_ids=list(silent))
    for supervisee_id, last_ts in silent.items():
        if supervisee_id not in active:
            continue
        level = AlertLevel.red if last_ts < red_before else AlertLevel.yellow
        evidence = {"last_fix_at": last_ts.isoformat(), "silent_min": int((now - last_ts).total_seconds() // 60)}
        change = service.raise_alert(
            session=session,
            supervisee_id=supervisee_id,
            zone_id=None,
            rule=rules.SIGNAL_LOST,
            level=level,
            key=rules.dedup_key(rules.SIGNAL_LOST, supervisee_id),
            at=last_ts + timedelta(minutes=settings.signal_lost_yellow_min),
            evidence=evidence,
        )
        if change:
            changes.append(change)
    live = service.live_alerts(session=session, rule=rules.SIGNAL_LOST)
    latest = positions.last_fix_times(session, supervisee_ids=[a.supervisee_id for a in live])
    for alert in live:
        last_ts = latest.get(alert.supervisee_id)
        if last_ts is not None and last_ts >= yellow_before:
            change = service.end_episode(
                session=session, key=alert.dedup_key, at=last_ts, evidence={"signal_back_at": last_ts.isoformat()}
            )
            if change:
                changes.append(change)
    return changes


def main() -> None:
    settings = get_settings()
    stop = bus.StopFlag().install()
    publisher = bus.Publisher(settings)
    log.info("watchdog running every %d s", settings.watchdog_interval_s)
    try:
        while not stop.stopped:
            try:
                with session_scope() as session:
                    changes = check_signal_lost(session)
                publish_changes(publisher, changes)
            except Exception:
                log.exception("watchdog round failed; retrying next round")
            stop.event.wait(settings.watchdog_interval_s)
    finally:
        publisher.close()


if __name__ == "__main__":
    main()
