"""Which zone events open an alert episode and which end it.

The full rule set (durations, distances, curfews, three yellows in seven days) builds on this;
the shape stays: a rule names the episode and its level, the service keeps it idempotent."""

from dataclasses import dataclass

from core.db import AlertLevel

INCLUSION_EXIT = "inclusion_exit"
EXCLUSION_ENTRY = "exclusion_entry"
SIGNAL_LOST = "signal_lost"


@dataclass(frozen=True)
class Decision:
    rule: str
    opens: bool  # True: evidence for an episode; False: the episode is over
    level: AlertLevel


def decide(event: dict) -> Decision | None:
    """Turn one zone event (zone-events.v1) into an alert decision, or None when no rule applies."""
    level = AlertLevel(event["severity"])
    match event["zone_kind"], event["kind"]:
        case "inclusion", "exit":
            return Decision(INCLUSION_EXIT, True, level)
        case "inclusion", "enter":
            return Decision(INCLUSION_EXIT, False, level)
        case "exclusion", "enter":
            return Decision(EXCLUSION_ENTRY, True, level)
        case "exclusion", "exit":
            return Decision(EXCLUSION_ENTRY, False, level)
    return None


def dedup_key(rule: str, supervisee_id: int, zone_id: int | None = None) -> str:
    return f"{rule}:{supervisee_id}:{zone_id if zone_id is not None else '-'}"
