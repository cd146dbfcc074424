"""Issuing one roll call to a whole district of 100,000 supervisees (quick: 5,000).

Seeded in SQL (one INSERT … SELECT from generate_series; set-up, not measured): a district with a
command officer and ``people`` active supervisees with phone numbers. Measured: ``rollcall.issue.issue``
by that officer for the district, its commit, then ``deliver`` (the ``issued`` events on rollcall.v1
acknowledged by the broker, the notifier — the default logging one — and the delivered/notified stamps).

Baseline, in the same run: the naive way, one INSERT and one acknowledged publish per person, for a
sample of ``BASELINE_SAMPLE`` people, extrapolated to ``people``.

Needs the database and the broker (``bench.common.prepare``); ``measure`` does not start or stop
anything, so a combined benchmark can call it inside its own platform. Alone:
``python -m bench.rollcall_issue [--quick]`` prints one JSON line."""

import json
import sys
import time
import uuid

PEOPLE, QUICK_PEOPLE = 100_000, 5_000
BASELINE_SAMPLE, QUICK_BASELINE_SAMPLE = 2_000, 500
TARGET_S = 5.0


def _seed(people: int) -> tuple[int, int]:
    """A district with a command officer and ``people`` supervisees; returns (district id, officer id)."""
    from sqlalchemy import text

    from caseload.models import District, DistrictLevel, Officer
    from core.db import session_scope
    from core.security import Role, hash_password

    tag = uuid.uuid4().hex[:8]
    with session_scope() as session:
        district = District(code=f"RC{tag}", name="点名 roll-call bench", level=DistrictLevel.city)
        session.add(district)
        session.flush()
        officer = Officer(
            username=f"rc{tag}",
            full_name="指挥中心 Command",
            password_hash=hash_password(uuid.uuid4().hex),
            role=Role.command,
            district_id=district.id,
        )
        session.add(officer)
        session.flush()
        session.execute(
            text(
                "INSERT INTO supervisee (code, full_name, phone, category, risk_level, district_id, officer_id, "
                "supervision_start, active) "
                "SELECT :tag || '-' || g, '测试' || g, '1380000' || lpad(g::text, 6, '0'), "
                "(ARRAY['control','probation','parole','temporary_release'])[1 + g % 4]::supervisee_category, "
                "(ARRAY['low','medium','high'])[1 + g % 3]::risk_level, :district, NULL, '2026-01-01', true "
                "FROM generate_series(1, :n) AS g"
            ),
            {"tag": f"RC{tag}", "district": district.id, "n": people},
        )
        session.execute(text("ANALYZE supervisee"))
        return district.id, officer.id


def _issue_all(district_id: int, officer_id: int, publisher) -> tuple[float, dict]:
    """Seconds to issue, commit and deliver the district's roll call; and the steps' shares."""
    from caseload.models import Officer
    from core.db import new_session
    from rollcall import issue, notify
    from rollcall.models import RollCallMode

    session = new_session()
    try:
        issuer = session.get(Officer, officer_id)
        began = time.perf_counter()
        roll_call = issue.issue(
            session=session, issuer=issuer, mode=RollCallMode.phone, audience={"district_id": district_id}
        )
        session.commit()
        written = time.perf_counter()
        delivered = issue.deliver(
            session=session, publisher=publisher, roll_call=roll_call, notifier=notify.LoggingNotifier()
        )
        ended = time.perf_counter()
    finally:
        session.close()
    assert delivered == roll_call.target_count, (delivered, roll_call.target_count)
    return ended - began, {"write_s": round(written - began, 3), "deliver_s": round(ended - written, 3)}


def _naive(district_id: int, sample: int, publisher) -> float:
    """Seconds for the naive way for ``sample`` people: a roll call row, then per person one INSERT and
    one publish waiting for the broker's acknowledgement, one commit at the end."""
    from sqlalchemy import text

    from core import bus
    from core.db import new_session

    session = new_session()
    try:
        ids = session.scalars(
            text("SELECT id FROM supervisee WHERE district_id = :d ORDER BY id LIMIT :n"),
            {"d": district_id, "n": sample},
        ).all()
        began = time.perf_counter()
        roll_call_id = session.scalar(
            text(
                "INSERT INTO roll_call (kind, mode, audience, deadline_min, close_min) "
                "VALUES ('ad_hoc', 'phone', '{}', 10, 30) RETURNING id"
            )
        )
        for supervisee_id in ids:
            session.execute(
                text(
                    "INSERT INTO roll_call_target (roll_call_id, supervisee_id, deadline_at, closes_at) "
                    "VALUES (:r, :s, now() + interval '10 minutes', now() + interval '30 minutes')"
                ),
                {"r": roll_call_id, "s": supervisee_id},
            )
            event = {"kind": "issued", "roll_call_id": roll_call_id, "supervisee_ids": [supervisee_id]}
            publisher.publish(bus.ROLLCALL, [(str(supervisee_id), bus.encode(event))])
        session.commit()
        return time.perf_counter() - began
    finally:
        session.close()


def measure(quick: bool = False) -> dict:
    """Seed, issue the district's roll call, and the naive baseline on a sample; see the module's doc."""
    from bench import common
    from core import bus

    common.prepare()
    people, sample = (QUICK_PEOPLE, QUICK_BASELINE_SAMPLE) if quick else (PEOPLE, BASELINE_SAMPLE)
    began = time.perf_counter()
    district_id, officer_id = _seed(people)
    print(f"seeded {people} supervisees in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    publisher = bus.Publisher()
    try:
        publisher.partition_count(bus.ROLLCALL)  # connected before the clock starts, as a running app is
        issue_s, steps = _issue_all(district_id, officer_id, publisher)
        print(f"issued to {people} in {issue_s:.2f} s ({steps})", file=sys.stderr)
        naive_s = _naive(district_id, sample, publisher)
        print(f"naive: {sample} people in {naive_s:.2f} s", file=sys.stderr)
    finally:
        publisher.close()
    return {
        "issue_s": round(issue_s, 3),
        "people": people,
        "baseline_issue_s": round(naive_s * people / sample, 3),
        "baseline_sample": sample,
        **steps,
    }


def main(quick: bool = False) -> int:
    result = measure(quick)
    print(
        json.dumps(
            {
                "bench": "rollcall_issue",
                "metric": f"seconds to issue (write, commit, publish, notify) a roll call to {result['people']} people",
                "value": result["issue_s"],
                "unit": "s",
                "baseline": "one INSERT and one acknowledged publish per person (sample, extrapolated)",
                "baseline_value": result["baseline_issue_s"],
                "ratio": round(result["issue_s"] / result["baseline_issue_s"], 4),
                "target": f"< {TARGET_S} s for {PEOPLE}",
                **result,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(quick="--quick" in sys.argv[1:]))
