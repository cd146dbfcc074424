"""Phone answers to a roll call under a burst: answers/s held, p50/p99 latency to the 200 (sent only
after the answer is committed) and every accepted answer found in the database; against the naive
design (one transaction per answer, one after another) measured in the same run.

Set-up (not measured): a district of people, each with a tracker fix a minute old, a phone sign-in
link and its token (written straight to the database: seeding is not what is measured), and one phone
roll call calling them all. The load: every person answers once, at ``rate`` answers/s, each request
an HTTP POST with the person's token, the browser's position and a 360×480 JPEG of 17 KB
(``bench/data/answer_photo.jpg``, base64 in the JSON body as the phone page sends it), over keep-alive
connections from this process while the portal runs as its own.

``python -m bench.rollcall_answers [--quick]``: 1,000/s for 3 s with --quick, else 5,000/s for 4 s.
Runs its own platform instance (see bench.common). Last stdout line: one JSON object."""

import asyncio
import base64
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from bench import common, loadgen

PHOTO = (Path(__file__).parent / "data" / "answer_photo.jpg").read_bytes()
# Phones answer on connections of their own: one second's worth of answers in flight, so a portal that
# answers within the 1-s target never runs short of connections and a slower one shows its queue.
CONNECTIONS_PER_RATE_S = 1.0
NAIVE_ANSWERS = 300
CENTRE = (41.29, 123.77)


class AnswerRequests(Sequence[bytes]):
    """The burst's requests, built as the load generator asks for them: one header and position per
    person around the same photo (holding thousands of 23 KB bodies would measure the client's memory)."""

    def __init__(self, host: str, targets: list[int], tokens: list[str]):
        self._host, self._targets, self._tokens = host, targets, tokens
        self._photo = base64.b64encode(PHOTO)

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index):
        lat = CENTRE[0] + (index % 100) * 1e-5  # a metre or so from the tracker
        head = orjson.dumps({"lat": lat, "lon": CENTRE[1], "accuracy_m": 12.0, "photo_type": "image/jpeg"})
        body = head[:-1] + b',"photo":"' + self._photo + b'"}'
        headers = {"Authorization": f"Bearer {self._tokens[index]}", "Content-Type": "application/json"}
        path = f"/api/v1/phone/rollcalls/{self._targets[index]}/answer"
        return loadgen.build_request("POST", path, self._host, body, headers)


def seed(people: int) -> tuple[list[int], list[int], list[str]]:
    """``people`` supervisees with a tracker fix, a phone sign-in and a pending phone roll call;
    returns (supervisee ids, target ids, phone tokens)."""
    from sqlalchemy import insert, select, text

    from caseload.models import Category, District, PhonePageLink, RiskLevel, Supervisee
    from core.db import session_scope
    from core.security import create_phone_token
    from core.timezones import utcnow
    from rollcall.models import RollCall, RollCallKind, RollCallMode, RollCallTarget

    now = utcnow()
    run = f"{int(time.time()) % 10**6}"
    with session_scope() as session:
        district = District(code=f"RCA{run}", name="点名压测 answers bench", level="county")
        session.add(district)
        session.flush()
        rows = [
            {
                "code": f"A{run}-{i}",
                "full_name": "测试",
                "category": Category.probation,
                "risk_level": RiskLevel.medium,
                "district_id": district.id,
                "supervision_start": date(2026, 1, 1),
            }
            for i in range(people)
        ]
        ids = list(session.scalars(insert(Supervisee).returning(Supervisee.id, sort_by_parameter_order=True), rows))
        session.execute(text("SELECT fix_ensure_partitions(:day, :day)"), {"day": now.date()})
        session.execute(
            text(
                "INSERT INTO fix (supervisee_id, ts, device_id, lat, lon, accuracy_m, source, received_at) "
                "SELECT s, :ts, 1000000 + s, :lat, :lon, 10, 'gps', :ts FROM unnest(CAST(:ids AS integer[])) s"
            ),
            {"ids": ids, "ts": now - timedelta(minutes=1), "lat": CENTRE[0], "lon": CENTRE[1]},
        )
        links = list(
            session.scalars(
                insert(PhonePageLink).returning(PhonePageLink.id, sort_by_parameter_order=True),
                [
                    {
                        "supervisee_id": s,
                        "code_hash": hashlib.sha256(f"{run}:{s}".encode()).hexdigest(),
                        "code_expires_at": now + timedelta(hours=1),
                        "redeemed_at": now,
                    }
                    for s in ids
                ],
            )
        )
        call = RollCall(
            kind=RollCallKind.ad_hoc,
            mode=RollCallMode.phone,
            district_id=district.id,
            issued_at=now,
            deadline_min=10,
            close_min=30,
            target_count=people,
        )
        session.add(call)
        session.flush()
        session.execute(
            insert(RollCallTarget),
            [
                {
                    "roll_call_id": call.id,
                    "supervisee_id": s,
                    "deadline_at": now + timedelta(minutes=10),
                    "closes_at": now + timedelta(minutes=30),
                }
                for s in ids
            ],
        )
        by_person = dict(
            session.execute(
                select(RollCallTarget.supervisee_id, RollCallTarget.id).where(RollCallTarget.roll_call_id == call.id)
            ).all()
        )
    tokens = [create_phone_token(supervisee_id=s, link_id=link) for s, link in zip(ids, links, strict=True)]
    return ids, [by_person[s] for s in ids], tokens


def answered(target_ids: list[int]) -> int:
    from sqlalchemy import func, select

    from core.db import session_scope
    from rollcall.models import RollCallTarget

    with session_scope() as session:
        return session.scalar(
            select(func.count()).where(RollCallTarget.id.in_(target_ids), RollCallTarget.answered_at.is_not(None))
        )


def naive_baseline(count: int) -> float:
    """Answers/s recorded one transaction per answer, one after another (the checks and photo the same)."""
    from core import bus
    from rollcall.answer_funnel import write_batch
    from rollcall.answers import PhoneAnswer

    ids, targets, tokens = seed(count)
    from core.security import decode_phone_token

    answers = [
        PhoneAnswer(t, s, decode_phone_token(token).link_id, datetime.now(UTC), *CENTRE, 12.0, PHOTO, "image/jpeg")
        for s, t, token in zip(ids, targets, tokens, strict=True)
    ]
    publisher = bus.Publisher()
    try:
        began = time.perf_counter()
        for answer in answers:
            [result] = write_batch(publisher, [answer]).results
            if result.refusal is not None:
                raise RuntimeError(f"naive answer refused: {result.refusal}")
        return count / (time.perf_counter() - began)
    finally:
        publisher.close()


def burst(settings, rate: float, seconds: float) -> dict:
    count = int(rate * seconds)
    _, targets, tokens = seed(count)
    requests = AnswerRequests(settings.host, targets, tokens)
    # Warm-up: connections, the portal's first batches (not counted; separate people).
    _, warm_targets, warm_tokens = seed(200)
    warm = AnswerRequests(settings.host, warm_targets, warm_tokens)
    asyncio.run(loadgen.run(settings.host, settings.portal_port, [warm[i] for i in range(len(warm))], concurrency=50))
    result = asyncio.run(
        loadgen.run(
            settings.host, settings.portal_port, requests, concurrency=int(rate * CONNECTIONS_PER_RATE_S), rate=rate
        )
    )
    ok = result["statuses"].get(200, 0)
    stored = answered(targets)
    print(
        f"{ok:,} of {count:,} answers 200 in {result['elapsed_s']:.2f} s at {rate:,.0f}/s offered; "
        f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; {stored:,} in the database; "
        f"statuses {result['statuses']}",
        file=sys.stderr,
    )
    return {
        "offered_per_s": rate,
        "answers": count,
        "ok": ok,
        "answers_per_s": ok / result["elapsed_s"],
        "p50_ms": round(result["p50_ms"], 1),
        "p99_ms": round(result["p99_ms"], 1),
        "recorded": stored,
        "all_recorded": stored == ok == count,
        "statuses": {str(k): v for k, v in result["statuses"].items()},
    }


def measure(quick: bool = False) -> dict:
    """Runs the burst on its own platform; the figures (and the naive baseline's answers/s)."""
    # Two portal processes, as a deployment expecting roll-call bursts would run (README): each writes
    # its own batches (measured: 1,300 answers/s held with one, 1,900 with two).
    os.environ.setdefault("EWALL_PORTAL_WORKERS", "2")
    with common.own_platform() as settings:
        figures = burst(settings, 1000 if quick else 5000, 3 if quick else 4)
        figures["naive_answers_per_s"] = round(naive_baseline(NAIVE_ANSWERS if not quick else 100), 1)
    figures["photo_bytes"] = len(PHOTO)
    return figures


def main(quick: bool = False) -> int:
    figures = measure(quick)
    line = {
        "bench": "rollcall_answers",
        "metric": "answer_p99_ms",
        "value": figures["p99_ms"],
        "unit": "ms",
        "baseline": "naive: one transaction per answer, sequential (answers/s); ratio: answers/s held over it",
        "baseline_value": figures["naive_answers_per_s"],
        "ratio": round(figures["answers_per_s"] / figures["naive_answers_per_s"], 2),
        "target": "p99 < 1000 ms at 5,000 answers/s, every answer recorded",
        **figures,
    }
    print(orjson.dumps(line).decode(), flush=True)
    return 0


if __name__ == "__main__":
    from ops import embedded

    embedded.ensure_generated_secrets()
    sys.exit(main("--quick" in sys.argv))
