"""Which level an alert episode deserves, from the geofence engine's zone events
(zone-events.v1) and the person's alert policy (thresholds per district and risk level).

The engine has already confirmed each violation with dwell and hysteresis; here it becomes an
episode: opened by the first confirmation, raised to red when it lasts too long or goes too far,
ended when the engine sees the person back. The service keeps every step idempotent."""

from dataclasses import dataclass
from typing import Protocol

from core.wire import AlertLevel

INCLUSION_EXIT = "inclusion_exit"  # out of the electronic wall (电子墙)
CURFEW_BREACH = "curfew_breach"  # away from home during a curfew
EXCLUSION_ENTRY = "exclusion_entry"  # into a barred place, or its warning ring
SIGNAL_LOST = "signal_lost"  # 脱管: no fix for too long
# Roll-call (点名) outcomes, from rollcall.v1.
ROLLCALL_LATE = "rollcall_late"  # answered after the deadline: yellow
ROLLCALL_MISSED = "rollcall_missed"  # not answered when the roll call closed: red
IDENTITY_CHECK_FAILED = "identity_check_failed"  # 人机分离, or the photo is not the person: red
# Platform alerts, to command staff: most of a gateway's or a district's people silent at once.
GATEWAY_SILENT = "gateway_silent"
DISTRICT_SILENT = "district_silent"
# What officers read for each rule (the queue's filter and the alert page).
RULE_LABELS = {
    INCLUSION_EXIT: "越界 Left the area",
    CURFEW_BREACH: "宵禁外出 Curfew breach",
    EXCLUSION_ENTRY: "进入禁区 Entered a barred place",
    SIGNAL_LOST: "信号丢失 Signal lost",
    ROLLCALL_LATE: "点名迟到 Late roll-call answer",
    ROLLCALL_MISSED: "点名未应答 Missed roll call",
    IDENTITY_CHECK_FAILED: "人机分离 Identity check failed",
    GATEWAY_SILENT: "网关失联 Gateway silent",
    DISTRICT_SILENT: "辖区失联 District silent",
}
REPEATED_YELLOW = "repeated_yellow"  # a reason, not a rule: the n-th yellow in d days is red
US_PER_MIN = 60_000_000


class Thresholds(Protocol):
    inclusion_red_after_min: float
    inclusion_red_distance_m: float


@dataclass(frozen=True)
class Decision:
    rule: str
    opens: bool  # True: evidence for an episode; False: the episode is over
    level: AlertLevel
    reason: str = ""


def decide(event: dict, policy: Thresholds) -> Decision:
    """Turn one zone event into an alert decision."""
    rule, level = event["rule"], AlertLevel(event["level"])
    if event["kind"] == "ended":
        return Decision(rule, False, level, event.get("reason") or "back on the right side")
    if rule == EXCLUSION_ENTRY:
        reason = "inside the barred place" if level == AlertLevel.red else "inside the warning ring of a barred place"
        return Decision(rule, True, level, reason)
    if rule == INCLUSION_EXIT:
        outside_min = (event["ts_us"] - event["started_us"]) / US_PER_MIN
        # The accuracy circle counts in the person's favour: how far out they surely are.
        beyond_m = event["distance_m"] - event["accuracy_m"]
        if outside_min >= policy.inclusion_red_after_min:
            return Decision(rule, True, AlertLevel.red, f"outside the wall for {outside_min:.0f} min")
        if beyond_m >= policy.inclusion_red_distance_m:
            return Decision(rule, True, AlertLevel.red, f"{beyond_m:,.0f} m outside the wall")
        return Decision(rule, True, level, "outside the wall")
    # A curfew breach stays at its zone's severity: the officer calls, the wall rules cover distance.
    return Decision(rule, True, level, "away from home during the curfew")


def dedup_key(rule: str, supervisee_id: int, zone_id: int | None = None) -> str:
    return f"{rule}:{supervisee_id}:{zone_id if zone_id is not None else '-'}"


def group_key(rule: str, group_id: int) -> str:
    """The dedup key of a platform alert about one gateway or district."""
    return f"{rule}:{group_id}"
