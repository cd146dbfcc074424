"""Roll calls (点名) answered through the platform, as the simulated people would answer them (each
by their role and plan: simulators.rollcall_plans), with the labels written as they are planned.

How the answerer learns of roll calls: it polls the staff API in bulk (the open roll calls, then
their pending targets, a page of thousands per request) and reads each called person's phone home
(``GET /api/v1/phone/home``) once, as their phone page would, before answering. Polling every
person's home, or one server-sent-event stream per person, costs a request or a connection per
person whether or not anyone is called: 10,000 people polled every 10 s is 1,000 requests/s, most
of them empty, on a machine that also runs the platform; the bulk poll costs one request per open
roll call and page, and the per-person work is only for those called.

Phone answers carry the person's simulated position (the phone's own GPS error on top), its accuracy
and a small photo; camera roll calls are answered by a sighting from the camera nearest the person,
office roll calls (报到) by a check-in at the judicial office's camera. All times are the simulated
clock (``clock``), which is the wall clock when the fleet runs in real time."""

import asyncio
import base64
import heapq
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path

import httpx
import numpy as np
import orjson

from simulators import demo, phones, routine
from simulators.fleet import Fleet
from simulators.platform import CONCURRENCY, PlatformError, Portal, Registration
from simulators.rollcall_plans import ON_TIME_DELAY_S, Call, Plan, labels, plan_answer
from simulators.stream import LOCAL, SIGHTING_DTYPE, Chunk

# 人机分离: the answering phone this far from the person (and their tracker), well beyond the platform's
# default separation (500 m) plus the coarsest tracker fix's accuracy and error (a cell fix, ~1.5 km).
MISMATCH_M = (8000.0, 12000.0)
# The platform compares an answer with the tracker's fixes within its tracker_window_min (10 by
# default); a mismatch is labelled only when a fix of the last TRACKER_SEEN_S arrived before it.
TRACKER_SEEN_S = 420.0
ANSWER_ACCURACY_M = (5.0, 25.0)
CHECKIN_CONFIDENCE = 0.95  # above the platform's sighting threshold (0.8 by default)
OFFICE_CAMERA = 0  # the fleet's camera 0 is the judicial office's (simulators.fleet)
OFFICE_OPENS = dt_time(9)  # people report (报到) at the office from its opening on their date


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@dataclass
class Outcomes:
    """What the answerer did and what the platform said, by target id."""

    plans: dict[int, Plan] = field(default_factory=dict)
    answers: dict[int, dict] = field(default_factory=dict)  # the platform's reply to each answer
    refused: dict[str, int] = field(default_factory=dict)  # reason → count
    not_on_phone: int = 0  # called (staff API) but absent from the person's phone home
    answer_latencies_s: list[float] = field(default_factory=list)  # phone answers, request to reply


class Answerer:
    """Answers the fleet's roll calls on the platform; ``observe`` each chunk as it is sent."""

    def __init__(
        self,
        fleet: Fleet,
        registration: Registration,
        portal: Portal,
        phone: httpx.AsyncClient,
        sessions: phones.PhoneSessions,
        *,
        roles: list[str | None],
        post_sightings: Callable,
        on_labels: Callable[[list[dict]], None],
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        on_time_s: tuple[float, float] = ON_TIME_DELAY_S,
    ):
        self.fleet, self.registration, self.portal, self.phone = fleet, registration, portal, phone
        self.sessions, self.roles, self.post_sightings, self.on_labels = sessions, roles, post_sightings, on_labels
        self.clock, self.on_time_s = clock, on_time_s
        self.rng = random.Random(f"rollcalls:{fleet.seed}:{seed}")
        self.person_of = {supervisee_id: p for p, supervisee_id in enumerate(registration.supervisee_ids)}
        self.outcomes = Outcomes()
        self._due: list[tuple[float, int]] = []  # (when, target id) of the answers to send
        self._read_roll_calls: set[int] = set()
        self._chunks: list[Chunk] = []

    def observe(self, chunk: Chunk) -> None:
        """The day's plan (where people are) and the fixes going out (whether a tracker is reporting)."""
        if chunk.plan is not None:
            self._chunks = [*self._chunks[-1:], chunk]

    def _chunk_at(self, t: float) -> Chunk | None:
        for chunk in reversed(self._chunks):
            if chunk.day_start <= t < chunk.day_start + routine.DAY_S:
                return chunk
        return None

    def _phone_back_at(self, person: int, t: float) -> float | None:
        chunk = self._chunk_at(t)
        if chunk is None:
            return None
        start, end = chunk.plan.off[person] + chunk.day_start
        return float(end) if start <= t < end else None  # False for NaN: not switched off today

    def _tracker_seen(self, person: int, t: float) -> bool:
        for chunk in self._chunks:
            fixes = chunk.fixes
            mine = (fixes["person"] == person) & (fixes["sent"] <= t - 1) & (fixes["ts"] >= t - TRACKER_SEEN_S)
            if mine.any():
                return True
        return False

    def _where(self, person: int, t: float) -> tuple[float, float]:
        """The person's true position at ``t`` on the city's plane (their home if no plan covers it)."""
        chunk = self._chunk_at(t)
        if chunk is None:
            return tuple(self.fleet.home[person])
        xy = routine.positions(chunk.plan, np.array([person]), np.array([t - chunk.day_start])).xy[0]
        return float(xy[0]), float(xy[1])

    async def poll(self) -> None:
        """Learn of new calls: open roll calls and their pending targets in bulk, then each called person's
        phone home; plan every answer."""
        now = self.clock()
        for roll_call in await self.portal.call("GET", "/rollcalls", params={"status": "open", "limit": 1000}):
            if roll_call["id"] in self._read_roll_calls:
                continue
            offset, page = 0, 5000
            while True:
                targets = await self.portal.call(
                    "GET",
                    f"/rollcalls/{roll_call['id']}/targets",
                    params={"status": "pending", "limit": page, "offset": offset},
                )
                new = [
                    (self.person_of[t["supervisee_id"]], t["id"])
                    for t in targets
                    if t["supervisee_id"] in self.person_of and t["id"] not in self.outcomes.plans
                ]
                await self._together(self._learn(person, roll_call, target_id, now) for person, target_id in new)
                if len(targets) < page:
                    break
                offset += page
            # A roll call's targets are all written when it is issued: read once, they are known.
            self._read_roll_calls.add(roll_call["id"])

    async def _learn(self, person: int, roll_call: dict, target_id: int, now: float) -> None:
        home = await self._phone("GET", person, "/phone/home")
        shown = {c["target_id"]: c for c in (home or {}).get("pending_rollcalls", [])}
        if target_id not in shown:
            self.outcomes.not_on_phone += 1
        seen = shown.get(target_id, {})
        call = Call(
            target_id=target_id,
            roll_call_id=roll_call["id"],
            person=person,
            mode=seen.get("mode", roll_call["mode"]),
            issued_at=_answerable_from(roll_call),
            deadline_at=epoch(seen.get("deadline_at", roll_call["deadline_at"])),
            closes_at=epoch(seen.get("closes_at", roll_call["closes_at"])),
        )
        role = self.roles[person]
        back_at = self._phone_back_at(person, now)
        plan = plan_answer(call, role, self.rng, now=now, phone_back_at=back_at, on_time_s=self.on_time_s)
        if plan.mismatch and not self._tracker_seen(person, plan.at):
            # Nothing to disagree with: the platform cannot tell, so the phone answers where the person is.
            plan = Plan(call, plan.at, late=plan.late)
        self.outcomes.plans[target_id] = plan
        self.on_labels(labels(plan, self.fleet.codes[person]))
        if plan.at is not None:
            heapq.heappush(self._due, (plan.at, target_id))

    async def answer_due(self) -> None:
        """Send every answer whose time has come."""
        due = []
        while self._due and self._due[0][0] <= self.clock():
            due.append(self.outcomes.plans[heapq.heappop(self._due)[1]])
        await self._together(
            self._answer_on_phone(plan) if plan.call.mode == "phone" else self._answer_at_camera(plan) for plan in due
        )

    async def _together(self, requests: Iterable[Awaitable]) -> None:
        """Many people's requests at once, as many at a time as the connection pool holds."""
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(request: Awaitable) -> None:
            async with limit:
                await request

        await asyncio.gather(*(one(r) for r in requests))

    async def _answer_on_phone(self, plan: Plan) -> None:
        person, t = plan.call.person, self.clock()
        x, y = self._where(person, t)
        accuracy = self.rng.uniform(*ANSWER_ACCURACY_M)
        sigma = accuracy / 1.515  # Android's accuracy is the 68 % radius (simulators.stream)
        x, y = x + self.rng.gauss(0, sigma), y + self.rng.gauss(0, sigma)
        if plan.mismatch:
            bearing, away = self.rng.uniform(0, 2 * math.pi), self.rng.uniform(*MISMATCH_M)
            x, y = x + math.cos(bearing) * away, y + math.sin(bearing) * away
        lon, lat = self.fleet.city.to_lonlat(x, y)
        body = {
            "lat": round(float(lat), 7),
            "lon": round(float(lon), 7),
            "accuracy_m": round(accuracy, 1),
            "photo": base64_photo(person),
            "photo_type": "image/jpeg",
            "ts": iso(t),
        }
        began = time.perf_counter()
        reply = await self._phone("POST", person, f"/phone/rollcalls/{plan.call.target_id}/answer", json=body)
        if reply is not None:
            self.outcomes.answer_latencies_s.append(time.perf_counter() - began)
            self.outcomes.answers[plan.call.target_id] = reply

    async def _answer_at_camera(self, plan: Plan) -> None:
        person, t = plan.call.person, self.clock()
        office = plan.call.mode == "office"
        if office:
            camera = OFFICE_CAMERA
        else:
            camera = int(np.argmin(np.hypot(*(self.fleet.cameras - np.array(self._where(person, t))).T)))
        sighting = np.array([(person, camera, t, CHECKIN_CONFIDENCE, office)], dtype=SIGHTING_DTYPE)
        await self.post_sightings(sighting)
        self.outcomes.answers[plan.call.target_id] = {"via": plan.call.mode, "camera": camera}

    async def _phone(self, method: str, person: int, path: str, **kwargs) -> dict | None:
        """A phone API request as ``person``'s phone page; a refused session is made anew once."""
        for attempt in range(2):
            if self.sessions.tokens[person] is None:
                await self.sessions.sign_in(self.portal, self.phone, [person])
            headers = {"Authorization": f"Bearer {self.sessions.tokens[person]}"}
            try:
                answer = await self.phone.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                self._refuse(f"{method} {path.split('/')[2]}: {exc}")
                return None
            if answer.status_code == 401 and attempt == 0:
                self.sessions.forget(person)
                continue
            if answer.status_code >= 400:
                self._refuse(f"{method} {path.split('/')[2]} {answer.status_code}: {answer.text[:120]}")
                return None
            return answer.json()
        return None

    async def close(self) -> None:
        await self.phone.aclose()

    def _refuse(self, reason: str) -> None:
        self.outcomes.refused[reason] = self.outcomes.refused.get(reason, 0) + 1

    async def run(self, *, poll_s: float = 5.0, until: Callable[[], bool] = lambda: False) -> None:
        """Poll and answer until ``until()`` says stop; a platform error is reported and retried."""
        next_poll = 0.0
        while not until():
            try:
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + poll_s
                    await self.poll()
                await self.answer_due()
            except PlatformError as exc:  # the portal restarting, say: the next round tries again
                self._refuse(str(exc)[:160])
            await asyncio.sleep(0.2)


async def signed_in(
    fleet: Fleet,
    registration: Registration,
    portal: Portal,
    portal_url: str,
    *,
    sessions_file: Path | None = None,
    **options,
) -> Answerer:
    """An answerer whose people's phones are signed in (new sessions only for those without a saved
    one); ``options`` go to Answerer. ``close()`` it when done."""
    phone = phones.phone_client(portal_url)
    try:
        sessions = phones.PhoneSessions.load(registration, sessions_file)
        await sessions.sign_in(portal, phone)
    except BaseException:
        await phone.aclose()
        raise
    return Answerer(fleet, registration, portal, phone, sessions, **options)


def _answerable_from(roll_call: dict) -> float:
    """When an answer first counts: the call, or for 报到 the office's opening on its date (local time)."""
    issued = epoch(roll_call["issued_at"])
    if roll_call["mode"] != "office" or not roll_call.get("office_date"):
        return issued
    opening = datetime.combine(date.fromisoformat(roll_call["office_date"]), OFFICE_OPENS, tzinfo=LOCAL)
    return max(issued, opening.timestamp())


def base64_photo(person: int) -> str:
    """The person's answer photo (a shade of their own), as the answer API takes it."""
    return base64.b64encode(phones.photo(64 + person * 37 % 160)).decode()


def ad_hoc(*, district_id: int, deadline_min: int, close_min: int, message: str, mode: str = "phone") -> dict:
    """The staff API's body for an ad-hoc roll call of a whole district (and its sub-districts)."""
    return {
        "mode": mode,
        "audience": {"district_id": district_id},
        "deadline_min": deadline_min,
        "close_min": close_min,
        "message": message,
    }


async def issue_ad_hoc(portal: Portal, **body) -> dict:
    """An ad-hoc roll call of a whole district, as command staff launch one (``ad_hoc``'s fields)."""
    return await portal.call("POST", "/rollcalls", json=ad_hoc(**body))


async def ensure_rules(portal: Portal, district_id: int, rules: Sequence[dict]) -> int:
    """The district's scheduled rules (one per risk level), created unless it has one for that level
    already; returns how many were created."""
    existing = await portal.call("GET", "/rollcall-rules")
    have = {r["risk_level"] for r in existing if r["district_id"] == district_id}
    missing = [rule for rule in rules if rule["risk_level"] not in have]
    for rule in missing:
        await portal.call("POST", "/rollcall-rules", json=rule | {"district_id": district_id})
    return len(missing)


def observed(chunks: Iterator[Chunk], answerer: Answerer) -> Iterator[Chunk]:
    """The stream, shown to the answerer chunk by chunk before it is sent."""
    for chunk in chunks:
        answerer.observe(chunk)
        yield chunk


@asynccontextmanager
async def answering(
    fleet: Fleet,
    registration: Registration,
    portal: Portal,
    portal_url: str,
    *,
    post_sightings: Callable,
    roles: list[str | None],
    truth: Path,
    sessions_file: Path | None,
    opening_district_id: int | None = None,
) -> AsyncIterator[Answerer | None]:
    """Answer the fleet's roll calls while the block runs (the phones signed in first). With
    ``opening_district_id`` (the demo): the demo's scheduled rules for that district, and its
    opening ad-hoc roll call. Yields None, after saying why on stderr, if the platform has no phone
    page or roll calls to answer."""
    truth.parent.mkdir(parents=True, exist_ok=True)
    with truth.open("ab") as sink:

        def write(records: list[dict]) -> None:
            sink.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
            sink.flush()

        try:
            answerer = await signed_in(
                fleet,
                registration,
                portal,
                portal_url,
                post_sightings=post_sightings,
                roles=roles,
                on_labels=write,
                sessions_file=sessions_file,
            )
        except PlatformError as exc:
            print(f"ewall simulate: roll calls will not be answered: {exc}", file=sys.stderr)
            yield None
            return
        stop = asyncio.Event()
        running = asyncio.create_task(answerer.run(until=stop.is_set))
        opening = asyncio.create_task(_opening(portal, opening_district_id)) if opening_district_id else None
        try:
            yield answerer
        finally:
            stop.set()
            if opening is not None:
                opening.cancel()
            await asyncio.gather(running, *([opening] if opening else []), return_exceptions=True)
            await answerer.close()


async def _opening(portal: Portal, district_id: int) -> None:
    """The demo's scheduled rules, then, a minute in, its ad-hoc roll call of the whole district."""
    try:
        await ensure_rules(portal, district_id, demo.ROLLCALL_RULES)
    except PlatformError as exc:
        print(f"ewall simulate: the demo's roll-call rules were refused: {exc}", file=sys.stderr)
    await asyncio.sleep(demo.OPENING_ROLLCALL_AFTER_S)
    deadline_min, close_min = demo.OPENING_ROLLCALL_MIN
    try:
        await issue_ad_hoc(
            portal,
            district_id=district_id,
            deadline_min=deadline_min,
            close_min=close_min,
            message="演示点名 Demo roll call: 请在3分钟内应答 answer within 3 minutes",
        )
    except PlatformError as exc:
        print(f"ewall simulate: the demo's opening roll call was refused: {exc}", file=sys.stderr)
