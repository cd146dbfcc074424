"""The demo fleet's violations (./ewall up --demo): each officer's caseload is planned a yellow and a
red at once, then a few an hour, by day and by night; the people really do it (their labels agree
with their true paths and their routines otherwise keep every rule); and the real geofence engine
and alert rules, fed by arrival minute, raise both levels for every officer within two minutes.

Pure functions (no database, broker or network): the bench's in-process platform plays the platform."""

import itertools
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from bench import alert_quality, simulated
from simulators import city, demo, fleet, routine, stream

SIZE = 200
OFFICERS = 2
# By day, just before the curfew starts, at night, and just before it ends (local time).
STARTS = [
    datetime(2026, 12, 3, 10, 7, 12, tzinfo=stream.LOCAL),
    datetime(2026, 12, 3, 21, 58, tzinfo=stream.LOCAL),
    datetime(2026, 12, 3, 23, 15, tzinfo=stream.LOCAL),
    datetime(2026, 12, 4, 5, 59, tzinfo=stream.LOCAL),
]
OPENING_S = 90
ALERTED_WITHIN_S = 120
RUN_S = 2 * 3600
DAY_S = routine.DAY_S


@pytest.fixture(scope="module")
def people() -> fleet.Fleet:
    return fleet.build(city.PRESETS["benxi"], SIZE, seed=1)  # ./ewall up's fleet


def caseloads(count: int = OFFICERS) -> list[list[int]]:
    """As the simulator registers them: person p to officer p mod count."""
    return [list(range(officer, SIZE, count)) for officer in range(count)]


def schedule(people: fleet.Fleet, start: datetime, count: int = OFFICERS) -> demo.Schedule:
    return demo.Schedule(people, caseloads(count), start.timestamp(), stream.local_midnight(start).timestamp())


@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.strftime("%H%M"))
@pytest.mark.parametrize("officers", [1, 2, 3])
def test_every_officer_gets_a_yellow_and_a_red_at_once(people, start, officers):
    planned = schedule(people, start, officers).between(start.timestamp(), start.timestamp() + OPENING_S)
    for officer, caseload in enumerate(caseloads(officers)):
        mine = [v for v in planned if v.officer == officer]
        assert sorted(v.level for v in mine) == ["red", "yellow"]
        assert all(v.person in caseload and people.scenario[v.person] < 0 for v in mine)
        # Phones that show it within a minute or two.
        assert all(people.gps_interval_s[v.person] <= demo.FAST_GPS_S for v in mine)
    night = demo.in_curfew(start.timestamp() - stream.local_midnight(start).timestamp())
    kinds = {v.kind for v in planned}
    assert kinds <= ({"curfew_breach", "exclusion_entry"} if night else {"exit_short", "exclusion_entry", "exit_long"})


def test_a_restart_opens_with_other_people(people):
    """After ./ewall down and up, whoever the last run left out of bounds still has their alert open:
    the new run's first violations are by others."""
    first = schedule(people, STARTS[0]).between(STARTS[0].timestamp(), STARTS[0].timestamp() + OPENING_S)
    again = STARTS[0].timestamp() + 300
    second = demo.Schedule(people, caseloads(), again, stream.local_midnight(STARTS[0]).timestamp())
    assert not {v.person for v in first} & {v.person for v in second.between(again, again + OPENING_S)}


@pytest.mark.parametrize("start", STARTS[:1] + STARTS[2:3], ids=["day", "night"])
def test_then_a_few_an_hour_of_both_levels_by_different_people(people, start):
    begin = start.timestamp() + OPENING_S
    planned = schedule(people, start).between(begin, begin + 6 * 3600)
    for officer in range(OFFICERS):
        for hour in range(6):
            in_hour = [v for v in planned if v.officer == officer and 0 <= v.onset - begin - hour * 3600 < 3600]
            assert 2 <= len(in_hour) <= 4
        mine = [v for v in planned if v.officer == officer]
        assert {v.level for v in mine[:2]} == {"yellow", "red"}
        assert all(a.person != b.person for a, b in itertools.pairwise(mine))
    # Whatever window is asked for, the same plan.
    split = begin + 5000
    whole = schedule(people, start).between(begin, begin + 3 * 3600)
    assert whole == planned[: len(whole)]
    assert whole == schedule(people, start).between(begin, split) + schedule(people, start).between(
        split, begin + 3 * 3600
    )


@pytest.fixture(scope="module", params=[STARTS[0], STARTS[2]], ids=["day", "night"])
def replayed(request, people):
    start = request.param
    ewall, _, _, truths = alert_quality.replay(people, start, RUN_S, schedule(people, start), progress=False)
    return start, ewall, truths


def test_the_platform_raises_both_levels_for_every_officer_within_two_minutes(people, replayed):
    start, ewall, _truths = replayed
    t0 = start.timestamp()
    for caseload in caseloads():
        ids = {int(simulated.supervisee_id(p)) for p in caseload}
        mine = [e for e in ewall.episodes if e.supervisee_id in ids]
        for level in ("yellow", "red"):
            # The engine sees arrival minutes: an alert known at the end of the second minute.
            assert any(e.level == level and e.detected_s - t0 <= ALERTED_WITHIN_S + 60 for e in mine), level
        # Then a few an hour: every hour of the run brings new ones.
        for hour in range(RUN_S // 3600):
            assert any(0 <= e.detected_s - t0 - hour * 3600 < 3600 for e in mine)


def test_demo_labels_are_what_the_platform_raises(replayed):
    """Every labelled demo episode is alerted at its level, and every alert of a demo person is one."""
    start, ewall, truths = replayed
    # Those over by the end of the run (one still under way may not have reached red yet).
    demo_truths = [t for t in truths if t.get("demo") and t["end"] < start.timestamp() + RUN_S]
    assert len(demo_truths) >= OFFICERS * RUN_S / demo.REPEAT_S  # every planned one, but any still to come
    codes = ewall.people.codes
    demo_people = {int(simulated.supervisee_id(codes.index(t["supervisee"]))) for t in demo_truths}
    episodes = [e for e in ewall.episodes if e.supervisee_id in demo_people]
    result = alert_quality.score(SimpleNamespace(people=ewall.people, episodes=episodes), demo_truths, 1.0)
    assert result["recall"] == 1.0
    assert result["precision"] == 1.0
    assert result["level_agreement"] == 1.0


def test_demo_people_keep_their_routine_outside_the_labelled_windows(people):
    """Between violations a demo person stays inside the wall, out of the barred place and home in
    the curfew, as every routine does."""
    start = STARTS[0]
    origin = stream.local_midnight(start)
    day = int((start - origin).total_seconds() // DAY_S)
    planned = schedule(people, start).between(origin.timestamp(), origin.timestamp() + DAY_S)
    violations: dict[int, list] = {}
    for v in planned:
        violations.setdefault(v.person, []).append((v.kind, v.onset - origin.timestamp()))
    plan = routine.plan_day(people, day, start.weekday(), episodes_today=people.scenario >= 0, violations=violations)
    labelled = [e for e in plan.episodes if e.get("demo")]
    assert {e["person"] for e in labelled} == set(violations)
    t = np.arange(0, DAY_S, 30.0)
    for p in violations:
        xy = routine.positions(plan, np.full(len(t), p), t).xy
        quiet = np.ones(len(t), bool)
        for e in labelled:
            if e["person"] == p:
                quiet &= (t < e["start"] - 60) | (t > e["end"] + 60)
        assert quiet.any()
        inside = np.hypot(*(xy - people.zone_centre[p]).T) <= people.zone_radius[p]
        barred = np.hypot(*(xy - people.exclusion_centre[p]).T) < people.exclusion_radius[p]
        away = (np.hypot(*(xy - people.home[p]).T) > fleet.CURFEW_RADIUS_M) & demo.in_curfew(t)
        assert inside[quiet].all() and not barred[quiet].any() and not away[quiet].any()


def test_without_the_demo_the_fleet_streams_as_before(people):
    start = STARTS[0]
    plain = list(stream.run(people, start=start, duration_s=1800))
    empty = demo.Schedule(people, [], start.timestamp(), stream.local_midnight(start).timestamp())
    with_none = list(stream.run(people, start=start, duration_s=1800, demo=empty))
    assert [c.fixes.tobytes() for c in plain] == [c.fixes.tobytes() for c in with_none]
    assert all(not e.get("demo") for c in plain for e in c.episodes)
