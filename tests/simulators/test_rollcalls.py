"""The roll-call answerer against the real platform: a small fleet's trackers report, an ad-hoc roll
call is issued through the staff API, the answerer learns of it and answers through the phone API
(position, accuracy, photo) as each person's role says; the labels are written, and an answer from
kilometres away from the tracker (人机分离) is flagged separated by the platform while honest ones
are not. A camera roll call is answered by a sighting from the camera nearest each person."""

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from simulators import city, fleet, platform, rollcalls, senders, stream
from simulators.rollcall_plans import MISMATCH, MISSED
from tests.conftest import ADMIN_PASSWORD
from tests.factories import eventually, run_async, unique

ROLES = [None, None, MISSED, MISMATCH, MISMATCH, MISMATCH]
TRACKER_PAST_S = 600


def registered(portal_url: str, directory, size: int, seed: int) -> tuple[fleet.Fleet, platform.Registration]:
    """A small fleet of its own district (its roll calls call no one else)."""
    people = fleet.build(city.PRESETS["gaoqing"], size, seed=seed, scenario_share=0.0)
    registration = run_async(
        platform.register(
            people,
            portal_url,
            "admin",
            ADMIN_PASSWORD,
            district_code=unique("SIMRC"),
            state_file=directory / "registration.json",
            progress=False,
        )
    )
    return people, registration


@pytest.fixture(scope="module")
def on_platform(portal_url, tmp_path_factory):
    return registered(portal_url, tmp_path_factory.mktemp("rollcalls"), len(ROLES), 61)


async def answerer_for(people, registration, portal, portal_url, sender, roles, on_labels=lambda found: None):
    """An answerer signed in through the phone-links and phone sign-in APIs; on time is within 2 s."""
    return await rollcalls.signed_in(
        people,
        registration,
        portal,
        portal_url,
        roles=roles,
        post_sightings=sender.sightings,
        on_labels=on_labels,
        on_time_s=(0.5, 1.5),
    )


def stored_fixes(db, supervisee_ids: list[int]) -> int:
    db.rollback()
    query = text("SELECT count(*) FROM fix WHERE supervisee_id = ANY(:ids)")
    return db.execute(query, {"ids": supervisee_ids}).scalar_one()


def test_the_answerer_answers_a_roll_call_through_the_apis_with_labels_and_separation(
    on_platform, portal_url, ingest_url, db
):
    people, registration = on_platform
    labels: list[dict] = []

    async def scenario():
        sender = senders.Sender(people, registration, ingest_url)
        async with platform.Portal(portal_url, "admin", ADMIN_PASSWORD) as portal:
            answerer = await answerer_for(people, registration, portal, portal_url, sender, ROLES, labels.extend)
            past = stream.run(people, start=datetime.now(UTC) - timedelta(seconds=TRACKER_PAST_S), duration_s=600)
            chunks = list(rollcalls.observed(past, answerer))
            await senders.replay(iter(chunks), sender, speed=math.inf, progress=False)
            unique_fixes = {(int(f["person"]), round(float(f["ts"]), 3)) for c in chunks for f in c.fixes}
            await asyncio.to_thread(
                eventually,
                lambda: stored_fixes(db, registration.supervisee_ids) >= len(unique_fixes),
                what="the trackers' fixes stored",
            )
            roll_call = await rollcalls.issue_ad_hoc(
                portal, district_id=registration.district_id, deadline_min=1, close_min=2, message="test roll call"
            )

            def answered_all() -> bool:
                plans = answerer.outcomes.plans.values()
                soon = [p for p in plans if p.at is not None and p.at < roll_call_issued + 40]
                return len(plans) == len(ROLES) and all(p.call.target_id in answerer.outcomes.answers for p in soon)

            roll_call_issued = rollcalls.epoch(roll_call["issued_at"])
            await asyncio.wait_for(answerer.run(poll_s=0.5, until=answered_all), timeout=45)
            targets = await portal.call("GET", f"/rollcalls/{roll_call['id']}/targets")
        await sender.close()
        await answerer.close()
        return roll_call, answerer.outcomes, targets

    roll_call, outcomes, targets = run_async(scenario())
    assert outcomes.refused == {} and outcomes.not_on_phone == 0  # each call was on the phone page too
    by_person = {registration.supervisee_ids.index(t["supervisee_id"]): t for t in targets}
    labelled = {(label["supervisee"], label["kind"]) for label in labels}
    assert all(label["roll_call_id"] == roll_call["id"] for label in labels)
    assert (people.codes[2], "rollcall_missed") in labelled and by_person[2]["status"] == "pending"
    mismatched = [p for p in range(len(ROLES)) if (people.codes[p], "rollcall_mismatch") in labelled]
    assert mismatched, "no mismatch person had a tracker fix to disagree with"
    for p, target in by_person.items():
        plan = outcomes.plans[target["id"]]
        if plan.at is None or target["id"] not in outcomes.answers:
            continue  # never answers, or answers after the test (a phone switched off)
        assert target["status"] == "answered" and target["answered_via"] == "phone" and target["has_photo"]
        assert outcomes.answers[target["id"]]["status"] == "answered"
        if p in mismatched:
            assert target["separated"] is True and target["tracker_distance_m"] > 5000
        else:
            assert target["separated"] is not True


def test_a_camera_roll_call_is_answered_by_a_sighting_from_the_nearest_camera(portal_url, ingest_url, tmp_path):
    people, registration = registered(portal_url, tmp_path, 3, 62)

    async def scenario():
        sender = senders.Sender(people, registration, ingest_url)
        async with platform.Portal(portal_url, "admin", ADMIN_PASSWORD) as portal:
            answerer = await answerer_for(people, registration, portal, portal_url, sender, [None] * people.size)
            roll_call = await rollcalls.issue_ad_hoc(
                portal,
                district_id=registration.district_id,
                deadline_min=1,
                close_min=2,
                message="到摄像头 camera",
                mode="camera",
            )

            def all_seen() -> bool:
                return len(answerer.outcomes.answers) == people.size

            await asyncio.wait_for(answerer.run(poll_s=0.5, until=all_seen), timeout=30)

            async def answered() -> list[dict]:
                for _ in range(100):
                    targets = await portal.call("GET", f"/rollcalls/{roll_call['id']}/targets")
                    if all(t["status"] != "pending" for t in targets):
                        return targets
                    await asyncio.sleep(0.3)
                return targets

            targets = await answered()
        await sender.close()
        await answerer.close()
        return answerer.outcomes, targets

    outcomes, targets = run_async(scenario())
    assert outcomes.refused == {} and outcomes.not_on_phone == 0  # each call was on the phone page too
    assert [(t["status"], t["answered_via"]) for t in targets] == [("answered", "camera")] * people.size
    cameras = {t["camera_id"] for t in targets}
    assert None not in cameras and {a["via"] for a in outcomes.answers.values()} == {"camera"}
