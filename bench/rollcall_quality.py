"""Roll-call outcome quality: a labelled simulated fleet on a fresh platform instance answers an ad-hoc
phone roll call through the phone API, as its people's roles say (on time, late, never, or from a
phone kilometres from their tracker: 人机分离), while its trackers keep reporting; after the close,
the platform's roll-call alerts and target statuses are matched to the labels.

Per kind: precision and recall of the alerts (late → rollcall_late, missed → rollcall_missed,
mismatch → identity_check_failed), and the "false missed": people the platform marked missed who
answered. The figure is the weakest precision or recall, per mille; the baseline is a perfect
platform (1,000), so the ratio is the share of it reached. Target: every one 1.0, no false missed.

The deadline is the platform's shortest (1 minute, closing at 2) to keep the run short. Runnable
alone: ``python -m bench.rollcall_quality [--quick]`` (300 people, quick 60)."""

import asyncio
import math
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from bench import common

SIZE, QUICK_SIZE = 300, 60
SEED = 16
ROLE_SHARE = 0.3  # of the people without a scenario: a tenth each late, missed and mismatch
DEADLINE_MIN, CLOSE_MIN = 1, 2
TRACKER_PAST_S = 20 * 60  # the trackers' recent fixes, sent before the call: answers have fixes to compare
SETTLED_WITHIN_S = 120  # after the close: the deadline timer marks the missed, the alerts worker raises


def measure(quick: bool) -> dict:
    """Run the labelled fleet's roll call on a fresh platform; precision and recall per kind."""
    with common.own_platform() as settings:
        people, registration = common.simulated_fleet(settings, QUICK_SIZE if quick else SIZE, seed=SEED)
        return asyncio.run(_roll_call(settings, people, registration))


async def _roll_call(settings, people, registration) -> dict:
    from ops import seed as ops_seed
    from simulators import platform, rollcall_plans, rollcalls, senders, stream

    portal_url = f"http://{settings.host}:{settings.portal_port}"
    sender = senders.Sender(people, registration, f"http://{settings.host}:{settings.ingest_port}")
    labels: list[dict] = []
    async with platform.Portal(portal_url, ops_seed.ADMIN_USERNAME, common.ADMIN_PASSWORD) as portal:
        began = time.perf_counter()
        answerer = await rollcalls.signed_in(
            people,
            registration,
            portal,
            portal_url,
            roles=rollcall_plans.roles(people, ROLE_SHARE, each_at_least=1),
            post_sightings=sender.sightings,
            on_labels=labels.extend,
        )
        signed_in_s = time.perf_counter() - began
        now = datetime.now(UTC)
        past = stream.run(people, start=now - timedelta(seconds=TRACKER_PAST_S), duration_s=TRACKER_PAST_S)
        await senders.replay(rollcalls.observed(past, answerer), sender, speed=math.inf, progress=False)
        live = stream.run(people, start=datetime.now(UTC), duration_s=(CLOSE_MIN * 60 + SETTLED_WITHIN_S))
        sending = asyncio.create_task(
            senders.replay(rollcalls.observed(live, answerer), sender, speed=1.0, progress=False)
        )
        stop = asyncio.Event()
        answering = asyncio.create_task(answerer.run(poll_s=2.0, until=stop.is_set))
        roll_call = await rollcalls.issue_ad_hoc(
            portal,
            district_id=registration.district_id,
            deadline_min=DEADLINE_MIN,
            close_min=CLOSE_MIN,
            message="bench: rollcall_quality",
        )
        closes_at = rollcalls.epoch(roll_call["closes_at"])
        await asyncio.sleep(max(0.0, closes_at - time.time()))
        targets = await _settled(portal, roll_call["id"], closes_at + SETTLED_WITHIN_S)
        alerts = await _alerts(portal, roll_call["issued_at"], registration.supervisee_ids)
        stop.set()
        sending.cancel()
        await asyncio.gather(answering, sending, return_exceptions=True)
        await sender.close()
        await answerer.close()
    result = score(people.codes, registration.supervisee_ids, labels, targets, alerts)
    latencies = sorted(answerer.outcomes.answer_latencies_s)
    return result | {
        "people": people.size,
        "phone_sign_in_s": round(signed_in_s, 1),
        "not_on_phone": answerer.outcomes.not_on_phone,
        "refused": answerer.outcomes.refused,
        "answers": len(latencies),
        "answer_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "answer_max_ms": round(1000 * latencies[-1], 1) if latencies else None,
    }


async def _settled(portal, roll_call_id: int, until: float) -> list[dict]:
    """The roll call's targets once none is pending (or at ``until``, as they are then)."""
    while True:
        targets = await _pages(portal, f"/rollcalls/{roll_call_id}/targets", {})
        if not any(t["status"] == "pending" for t in targets) or time.time() > until:
            return targets
        await asyncio.sleep(2)


async def _alerts(portal, since: str, supervisee_ids: list[int]) -> list[dict]:
    """The roll-call alerts of the fleet raised since the call, once their count stops growing."""
    from simulators import rollcall_plans

    rules = {rule for _, rule, _ in rollcall_plans.LABELS.values()}
    ours = set(supervisee_ids)
    found: list[dict] = []
    for _ in range(10):  # the alerts worker trails the answers and the deadline timer by a moment
        await asyncio.sleep(2)
        latest = [
            a
            for a in await _pages(portal, "/alerts", {"since": since})
            if a["rule"] in rules and a["supervisee_id"] in ours
        ]
        if found and len(latest) == len(found):
            return latest
        found = latest
    return found


async def _pages(portal, path: str, params: dict, page: int = 2000) -> list[dict]:
    rows: list[dict] = []
    while True:
        batch = await portal.call("GET", path, params=params | {"limit": page, "offset": len(rows)})
        rows += batch
        if len(batch) < page:
            return rows


def score(codes: list[str], supervisee_ids: list[int], labels: list[dict], targets: list[dict], alerts: list[dict]):
    """Precision and recall of each kind's alerts against the labels (by person: one roll call), and
    the people marked missed who answered."""
    from simulators import rollcall_plans

    supervisee_of = dict(zip(codes, supervisee_ids, strict=True))
    result: dict = {}
    worst = 1.0
    for kind, (label, rule, _) in rollcall_plans.LABELS.items():
        expected = {supervisee_of[x["supervisee"]] for x in labels if x["kind"] == label}
        raised = {a["supervisee_id"] for a in alerts if a["rule"] == rule}
        hits = len(expected & raised)
        precision = hits / len(raised) if raised else 1.0
        recall = hits / len(expected) if expected else 1.0
        worst = min(worst, precision, recall)
        result[kind] = {
            "labelled": len(expected),
            "alerts": len(raised),
            "precision": round(precision, 3),
            "recall": round(recall, 3),
        }
        if kind == rollcall_plans.MISMATCH:
            false = [a for a in alerts if a["rule"] == rule and a["supervisee_id"] not in expected]
            result["false_mismatch_evidence"] = [_separation(a["evidence"]) for a in false[:10]]
        if kind == rollcall_plans.MISSED:
            marked = {t["supervisee_id"] for t in targets if t["status"] == "missed"}
            result["false_missed"] = len(marked - expected)
            result["missed_not_marked"] = len(expected - marked)
    result["min_precision_recall"] = worst
    result["targets"] = len(targets)
    result["still_pending"] = sum(t["status"] == "pending" for t in targets)
    return result


def _separation(evidence: dict) -> dict:
    """What an unlabelled 人机分离 alert compared: the distance, both accuracies and the fix's age."""
    last = evidence.get("last", evidence)
    tracker, answer = last.get("tracker") or {}, last.get("answer") or {}
    age_s = None
    if tracker.get("ts") and last.get("answered_at"):
        age = datetime.fromisoformat(last["answered_at"]) - datetime.fromisoformat(tracker["ts"])
        age_s = round(abs(age.total_seconds()))
    return {
        "distance_m": last.get("distance_m"),
        "answer_accuracy_m": answer.get("accuracy_m"),
        "tracker_accuracy_m": round(tracker["accuracy_m"]) if tracker.get("accuracy_m") else None,
        "tracker_age_s": age_s,
    }


def main(quick: bool = False) -> int:
    result = measure(quick)
    print(result, file=sys.stderr)
    common.report(
        "rollcall-quality",
        "min_precision_recall",
        result["min_precision_recall"] * 1000,
        "per mille",
        "a perfect platform: every label alerted, nothing else",
        1000,
        "precision and recall 1.0 for late, missed and mismatch; no false missed",
    )
    return 0 if result["min_precision_recall"] == 1.0 and result["false_missed"] == 0 else 1


if __name__ == "__main__":
    from ops import embedded

    embedded.ensure_generated_secrets()
    sys.exit(main(quick="--quick" in sys.argv[1:]))
