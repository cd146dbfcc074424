"""alerts.v1: the alerts domain tells the platform what changed in its alerts. Whoever made the
changes (the alerts worker, the watchdog, an officer's request through the alerts API) publishes
them here, after its transaction committed."""

from collections.abc import Sequence

from alerts.service import AlertChange
from core import bus
from core.logs import configure

log = configure("ewall.alerts")


def publish_changes(publisher: bus.Publisher, changes: Sequence[AlertChange]) -> None:
    """Put the changes on alerts.v1 and wait for the broker's acknowledgement."""
    if changes:
        # A person's changes stay in order on one partition; platform alerts share one key.
        publisher.publish(bus.ALERTS, [(str(c.supervisee_id or "platform"), bus.encode(c.as_dict())) for c in changes])
        log.info("%d alert changes", len(changes))


def announce(publisher: bus.Publisher, changes: Sequence[AlertChange]) -> None:
    """Publish an officer's committed changes so that every portal's live stream shows them. The
    change stands whether or not the broker answers: without it, pages catch up on reconnect."""
    try:
        publish_changes(publisher, changes)
    except bus.BrokerUnavailable as exc:
        alert_ids = ", ".join(str(c.alert_id) for c in changes)
        log.warning("officer's change to alert %s not announced live (%s); pages catch up on reconnect", alert_ids, exc)
