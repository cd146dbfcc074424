"""Watchdog: timers that no incoming record triggers, each round.

- Signal lost (脱管): no fix for over the person's ``signal_lost_yellow_min`` raises yellow, over
  ``signal_lost_red_min`` red; a new fix ends it.
- Escalation: an alert left unacknowledged past its SLA goes to the officer's supervisor."""

import time
from datetime import datetime, timedelta

from alerts import policy, rules, service, suspension
from alerts.worker import publish_changes
from caseload import service as caseload_service
from core import bus
from core.config import get_settings
from core.db import AlertLevel, session_scope
from core.heartbeat import Heartbeat
from core.logs import configure
from core.timezones import utcnow
from tracker_ingest import positions

log = configure("ewall.watchdog")
# Alert changes per transaction. Every change appends to the audit chain, whose lock a transaction
# holds until it commits: a round raising hundreds at once (a gateway's backlog after an outage
# makes a whole fleet look silent) kept the alerts worker's new episodes waiting for seconds.
CHUNK = 10


def _kept(session, changes: list[service.AlertChange], change: service.AlertChange | None) -> None:
    """Add a change; commit every CHUNK of them, releasing the audit chain (raises are idempotent)."""
    if change is None:
        return
    changes.append(change)
    if len(changes) % CHUNK == 0:
        session.commit()


def _raise_silences(session, now: datetime, silent: dict[int, datetime], policies) -> list[service.AlertChange]:
    due = {
        sid: last_ts + timedelta(minutes=policies[sid].signal_lost_yellow_min)
        for sid, last_ts in silent.items()
        if now - last_ts > timedelta(minutes=policies[sid].signal_lost_yellow_min)
    }
    # A silence that outlasts a suspension is reported from the suspension's end; one still inside it
    # is reported at its own time, so that the suspension keeps a record of it.
    resume = suspension.resume_times(session=session, due=due)
    changes = []
    for supervisee_id, due_at in due.items():
        last_ts = silent[supervisee_id]
        red = now - last_ts > timedelta(minutes=policies[supervisee_id].signal_lost_red_min)
        change = service.raise_alert(
            session=session,
            supervisee_id=supervisee_id,
            zone_id=None,
            rule=rules.SIGNAL_LOST,
            level=AlertLevel.red if red else AlertLevel.yellow,
            key=rules.dedup_key(rules.SIGNAL_LOST, supervisee_id),
            at=resume[supervisee_id] if resume[supervisee_id] <= now else due_at,
            evidence={"last_fix_at": last_ts.isoformat(), "silent_min": int((now - last_ts).total_seconds() // 60)},
        )
        _kept(session, changes, change)
    return changes


def check_signal_lost(session) -> list[service.AlertChange]:
    now = utcnow()
    soonest = now - timedelta(minutes=policy.smallest(session=session, field="signal_lost_yellow_min"))
    silent = dict(positions.silent_since(session, before=soonest))
    active = caseload_service.active_supervisee_ids(session=session, supervisee_ids=list(silent))
    silent = {sid: ts for sid, ts in silent.items() if sid in active}
    live = service.live_alerts(session=session, rule=rules.SIGNAL_LOST)
    policies = policy.policies_for(
        session=session, supervisee_ids=list(silent.keys() | {a.supervisee_id for a in live})
    )
    changes = _raise_silences(session, now, silent, policies)
    latest = positions.last_fix_times(session, supervisee_ids=[a.supervisee_id for a in live])
    for alert in live:
        last_ts = latest.get(alert.supervisee_id)
        yellow_after = timedelta(minutes=policies[alert.supervisee_id].signal_lost_yellow_min)
        if last_ts is not None and now - last_ts <= yellow_after:
            change = service.end_episode(
                session=session, key=alert.dedup_key, at=last_ts, evidence={"signal_back_at": last_ts.isoformat()}
            )
            _kept(session, changes, change)
    return changes


def check_escalations(session) -> list[service.AlertChange]:
    changes: list[service.AlertChange] = []
    while True:
        # The overdue rows stay locked until the commit, so that no other watchdog escalates them:
        # CHUNK at a time, committed, like the other changes.
        chunk = service.escalate_overdue(session=session, limit=CHUNK)
        changes += chunk
        session.commit()
        if len(chunk) < CHUNK:
            return changes


CHECKS = (check_signal_lost, check_escalations)


def main() -> None:
    settings = get_settings()
    stop = bus.StopFlag().install()
    publisher = bus.Publisher(settings)
    heartbeat = Heartbeat("watchdog", settings)
    log.info("watchdog running every %d s", settings.watchdog_interval_s)
    due = 0.0
    try:
        while not stop.stopped:
            heartbeat.beat()
            if time.monotonic() < due:
                stop.event.wait(min(heartbeat.interval_s, due - time.monotonic()))
                continue
            due = time.monotonic() + settings.watchdog_interval_s
            # Each check in its own session (committing as it goes): one failing does not hold the others back.
            for check in CHECKS:
                try:
                    with session_scope() as session:
                        changes = check(session)
                    publish_changes(publisher, changes)
                except Exception:
                    log.exception("watchdog %s failed; retrying next round", check.__name__)
    finally:
        publisher.close()


if __name__ == "__main__":
    main()
