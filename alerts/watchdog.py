"""Watchdog: timers that no incoming record triggers, each round.

- Signal lost (脱管): no fix for over the person's ``signal_lost_yellow_min`` raises yellow, over
  ``signal_lost_red_min`` red; a new fix ends it.
- Escalation: an alert left unacknowledged past its SLA goes to the officer's supervisor.
- Retention, hourly: coordinates older than the fix retention leave alerts, old alerts go.

The platform's own outages are not the supervisees' fault (issue #12): each round first records them
(alerts.outage); silence is measured without them, no new signal-lost alert is raised while one is
open, acknowledgement clocks stop over them (alerts.sla), and a whole gateway or district gone
silent at once raises one platform alert instead of one per person (alerts.silence). A device that
never reported counts as silent from its registration."""

import time
from datetime import datetime, timedelta

from alerts import outage, policy, retention, rules, service, silence, suspension
from alerts.config import get_alert_settings
from alerts.publish import publish_changes
from caseload import monitoring
from core import audit, bus
from core.config import get_settings
from core.db import session_scope
from core.heartbeat import Heartbeat
from core.logs import configure
from core.timezones import utcnow
from core.wire import AlertLevel
from tracker_ingest import positions

log = configure("ewall.watchdog")
# Alert changes per transaction. Every change appends to the audit chain, whose lock a transaction
# holds until it commits: a round raising hundreds at once (a gateway's backlog after an outage
# makes a whole fleet look silent) kept the alerts worker's new episodes waiting for seconds.
CHUNK = 10
RETENTION_EVERY_S = 3600.0


def _kept(session, changes: list[service.AlertChange], change: service.AlertChange | None) -> None:
    """Add a change; commit every CHUNK of them, releasing the audit chain (raises are idempotent)."""
    if change is None:
        return
    changes.append(change)
    if len(changes) % CHUNK == 0:
        session.commit()


def _raise_silences(
    session, now: datetime, silent: dict[int, datetime], never: set[int], policies, outages: list[outage.Window]
) -> list[service.AlertChange]:
    """Signal-lost alerts for the people silent (since their last fix, or since their device was
    registered if it never reported) for longer than their policy allows, not counting the time the
    platform itself was out."""
    due, red = {}, set()
    for sid, since in silent.items():
        due_at = outage.advance(since, timedelta(minutes=policies[sid].signal_lost_yellow_min), outages)
        if due_at is not None and due_at < now:
            due[sid] = due_at
            red_at = outage.advance(since, timedelta(minutes=policies[sid].signal_lost_red_min), outages)
            if red_at is not None and red_at < now:
                red.add(sid)
    # A silence that outlasts a suspension is reported from the suspension's end; one still inside it
    # is reported at its own time, so that the suspension keeps a record of it.
    resume = suspension.resume_times(session=session, due=due)
    changes = []
    for supervisee_id, due_at in due.items():
        since = silent[supervisee_id]
        excluded = outage.overlap(since, now, outages)
        evidence = {
            "device_registered_at" if supervisee_id in never else "last_fix_at": since.isoformat(),
            "silent_min": int((now - since - excluded).total_seconds() // 60),
        }
        if excluded:
            evidence["platform_outage_min"] = int(excluded.total_seconds() // 60)
        change = service.raise_alert(
            session=session,
            supervisee_id=supervisee_id,
            zone_id=None,
            rule=rules.SIGNAL_LOST,
            level=AlertLevel.red if supervisee_id in red else AlertLevel.yellow,
            key=rules.dedup_key(rules.SIGNAL_LOST, supervisee_id),
            at=resume[supervisee_id] if resume[supervisee_id] <= now else due_at,
            evidence=evidence,
        )
        _kept(session, changes, change)
    return changes


def check_platform(session) -> list[service.AlertChange]:
    """Keep the platform's outage windows current (alerts.outage); changes no alert."""
    was_open = set(outage.open_causes(session=session))
    now_open = set(outage.observe(session=session))
    for cause in sorted(now_open - was_open):
        log.warning("platform outage: %s; no new signal-lost alerts until it is over", cause)
    for cause in sorted(was_open - now_open):
        log.info("platform outage over: %s", cause)
    return []


def check_signal_lost(session) -> list[service.AlertChange]:
    now = utcnow()
    yellow = timedelta(minutes=policy.smallest(session=session, field="signal_lost_yellow_min"))
    together = timedelta(minutes=get_alert_settings().group_silent_after_min)
    quiet = dict(positions.silent_since(session, before=now - min(yellow, together)))
    never = monitoring.never_reported(
        session=session, reported=positions.reported_ids(), registered_before=now - yellow
    )
    # Only people under an approved monitoring period (社区矫正法 art. 29), silent since it began at the
    # earliest: before it, nobody was watching.
    since = monitoring.monitored_since(session=session, supervisee_ids=list(quiet | never))
    quiet = {sid: max(ts, since[sid]) for sid, ts in quiet.items() if sid in since}
    never = {sid: max(at, since[sid]) for sid, at in never.items() if sid in since}
    outages = outage.windows(session=session, since=min([*quiet.values(), *never.values()], default=now), until=now)
    # A platform outage going on: nobody's silence is theirs now; platform alerts only end.
    platform_ok = not outage.is_open(outages)
    changes, held = silence.check(
        session=session, now=now, silent={s: t for s, t in quiet.items() if now - t > together}, allow_new=platform_ok
    )
    if changes:
        session.commit()
    silent = {sid: ts for sid, ts in (quiet | never).items() if now - ts > yellow and sid not in held}
    live = service.live_alerts(session=session, rule=rules.SIGNAL_LOST)
    policies = policy.policies_for(
        session=session, supervisee_ids=list(silent.keys() | {a.supervisee_id for a in live})
    )
    if platform_ok:
        changes += _raise_silences(session, now, silent, set(never), policies, outages)
    latest = positions.last_fix_times(session, supervisee_ids=[a.supervisee_id for a in live])
    watched = monitoring.monitored_since(session=session, supervisee_ids=[a.supervisee_id for a in live])
    for alert in live:
        if alert.supervisee_id not in watched:  # the period ended or was released: silence is no longer theirs
            change = service.end_episode(
                session=session, key=alert.dedup_key, at=now, evidence={"monitoring_ended_at": now.isoformat()}
            )
            _kept(session, changes, change)
            continue
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


_retention_due = [0.0]


def check_retention(session) -> list[service.AlertChange]:
    """Hourly: alerts' old coordinates and expired alerts go (alerts.retention); publishes nothing."""
    if time.monotonic() < _retention_due[0]:
        return []
    purged = retention.purge_expired(session=session, settings=get_settings())
    _retention_due[0] = time.monotonic() + RETENTION_EVERY_S
    if any(purged.values()):
        log.info("retention: %s", ", ".join(f"{n} {what}" for what, n in purged.items() if n))


def anchor_audit_chain(session) -> list[service.AlertChange]:
    """Checkpoint the audit chain's head outside the database (core.audit): a cut tail shows against it."""
    audit.checkpoint(session)
    return []


# The platform's state first: the signal-lost round reads the outage windows it keeps.
CHECKS = (check_platform, check_signal_lost, check_escalations, check_retention, anchor_audit_chain)


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
