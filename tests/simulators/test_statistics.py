"""The synthetic fleet's statistics and labels: noise that matches the reported accuracy, sampling at the
configured intervals, realistic delivery, and ground truth that agrees with the true paths.

Pure functions only (no database, broker or network). One fleet is streamed for a day and a bit once per
module; the true path of any person at any moment is re-derived from the same deterministic day plans."""

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import NamedTuple

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from core.datum import to_wgs84
from simulators import city, fleet, routine, stream

SEED = 7
SIZE = 1000
START = datetime(2024, 5, 6, tzinfo=stream.LOCAL)  # a Monday, local midnight
DURATION_S = 28 * 3600  # the whole of day 0 and the small hours of day 1
DAY_S = routine.DAY_S
EXIT_KINDS = ("exit_short", "exit_long")


class Truth(NamedTuple):
    xy: np.ndarray  # (m, 2) metres on the city plane
    indoor: np.ndarray  # (m,) bool


@dataclass
class Run:
    fleet: fleet.Fleet
    origin_s: float  # epoch seconds of local midnight, day 0
    chunks: list
    fixes: np.ndarray  # every fix, in arrival order
    true_t: np.ndarray  # each fix's true time, epoch seconds
    episodes: list[dict]
    plans: dict  # day → DayPlan, re-planned exactly as the stream plans them

    def truth(self, person: np.ndarray, epoch: np.ndarray) -> Truth:
        """True positions of ``person[i]`` at epoch second ``epoch[i]``, across days."""
        person, epoch = np.broadcast_arrays(np.asarray(person, dtype=np.int64), np.asarray(epoch, dtype=float))
        second = epoch - self.origin_s
        day = np.floor(second / DAY_S).astype(int)
        xy, indoor = np.full((len(second), 2), np.nan), np.zeros(len(second), bool)
        for d in np.unique(day):
            mask = day == d
            where = routine.positions(self.plans[int(d)], person[mask], second[mask] - d * DAY_S)
            xy[mask], indoor[mask] = where.xy, where.indoor
        return Truth(xy, indoor)

    def day_episodes(self, day: int, *kinds: str) -> list[dict]:
        low, high = self.origin_s + day * DAY_S, self.origin_s + (day + 1) * DAY_S
        return [e for e in self.episodes if low <= e["start"] < high and (not kinds or e["kind"] in kinds)]

    def person(self, episode: dict) -> int:
        return self.fleet.codes.index(episode["supervisee"])


def _stream(f: fleet.Fleet, start: datetime, duration_s: float) -> list:
    return list(stream.run(f, start=start, duration_s=duration_s, episode_rate=1.0))


@pytest.fixture(scope="module")
def run() -> Run:
    f = fleet.build(city.PRESETS["benxi"], SIZE, seed=SEED, scenario_share=0.5)
    chunks = _stream(f, START, DURATION_S)
    fixes = np.concatenate([c.fixes for c in chunks])
    origin_s = stream.local_midnight(START).timestamp()
    # With episode_rate 1.0 every scenario person acts their scenario every day (the draw is uniform < 1).
    plans = {
        day: routine.plan_day(f, day, (START.weekday() + day) % 7, episodes_today=f.scenario >= 0) for day in (0, 1)
    }
    return Run(
        fleet=f,
        origin_s=origin_s,
        chunks=chunks,
        fixes=fixes,
        true_t=fixes["ts"] - f.clock_skew_s[fixes["person"]],
        episodes=[e for c in chunks for e in c.episodes],
        plans=plans,
    )


def _reported_xy(f: fleet.Fleet, fixes: np.ndarray) -> np.ndarray:
    """Reported positions, converted from each phone's datum back to WGS-84, in metres on the city plane."""
    lon, lat = to_wgs84(fixes["lon"], fixes["lat"], np.array(fleet.DATUMS)[fixes["datum"]])
    return np.stack(f.city.to_xy(lon, lat), axis=1)


def _true_xy(f: fleet.Fleet, fixes: np.ndarray) -> np.ndarray:
    return np.stack(f.city.to_xy(fixes["true_lon"], fixes["true_lat"]), axis=1)


def _error_m(f: fleet.Fleet, fixes: np.ndarray) -> np.ndarray:
    return np.hypot(*(_reported_xy(f, fixes) - _true_xy(f, fixes)).T)


def _distance(xy: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return np.hypot(*(np.asarray(xy) - np.asarray(centre)).T)


def _repeats(fixes: np.ndarray) -> np.ndarray:
    """Which fixes repeat one that arrived before them (same person, source and ts)."""
    order = np.lexsort((fixes["sent"], fixes["ts"], fixes["source"], fixes["person"]))
    key = fixes[order]
    same = np.ones(len(fixes) - 1, bool)
    for column in ("person", "source", "ts"):
        same &= key[column][1:] == key[column][:-1]
    repeat = np.zeros(len(fixes), bool)
    repeat[order[1:][same]] = True
    return repeat


def _unique_fixes(fixes: np.ndarray) -> np.ndarray:
    """One row per (person, source, ts): duplicates dropped."""
    return fixes[~_repeats(fixes)]


def _day_grid(run: Run, people: np.ndarray, step_s: float, day: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, second of day, true xy) for every person in ``people`` every ``step_s`` over a whole day."""
    seconds = np.arange(0, DAY_S, step_s)
    person = np.repeat(people, len(seconds))
    second = np.tile(seconds, len(people))
    xy = routine.positions(run.plans[day], person, second).xy
    return person, second, xy


# --- 1. Determinism ---------------------------------------------------------------------------------------------


def _small_run(seed: int) -> tuple[np.ndarray, list[dict]]:
    f = fleet.build(city.PRESETS["benxi"], 300, seed=seed, scenario_share=0.5)
    chunks = _stream(f, START.replace(hour=11), 3 * 3600)
    return np.concatenate([c.fixes for c in chunks]), [e for c in chunks for e in c.episodes]


def test_same_seed_gives_identical_output_and_another_seed_does_not():
    fixes_a, episodes_a = _small_run(21)
    fixes_b, episodes_b = _small_run(21)
    fixes_c, episodes_c = _small_run(22)
    assert len(fixes_a) > 10_000
    assert fixes_a.dtype == stream.FIX_DTYPE
    assert fixes_a.tobytes() == fixes_b.tobytes()
    assert episodes_a == episodes_b
    assert episodes_a  # a three-hour window of a half-scenario fleet holds labelled episodes
    assert fixes_a.tobytes() != fixes_c.tobytes()
    assert episodes_a != episodes_c


def test_replanned_days_match_the_streamed_ground_truth(run):
    """The plans these tests derive true paths from are the stream's own."""
    f = run.fleet
    planned = sorted(
        (f.codes[e["person"]], e["kind"], run.origin_s + e["start"], run.origin_s + e["end"], e["level"])
        for e in run.plans[0].episodes
    )
    streamed = sorted(
        (e["supervisee"], e["kind"], e["start"], e["end"], e["expected_level"]) for e in run.day_episodes(0)
    )
    assert planned == streamed
    # And every fix's ground truth is the planned position at its true time (to well under a metre).
    sample = run.fixes[:: max(1, len(run.fixes) // 50_000)]
    true_t = sample["ts"] - f.clock_skew_s[sample["person"]]
    expected = run.truth(sample["person"], true_t).xy
    assert np.max(_distance(_true_xy(f, sample), expected)) < 0.5


# --- 2, 3. Position noise ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gps(run):
    """GPS fixes with their horizontal error, indoor flag and honesty of the device."""
    f = run.fleet
    fixes = run.fixes[run.fixes["source"] == 0]
    true_t = fixes["ts"] - f.clock_skew_s[fixes["person"]]
    return {
        "fixes": fixes,
        "error": _error_m(f, fixes),
        "indoor": run.truth(fixes["person"], true_t).indoor,
        "honest": f.overconfidence[fixes["person"]] == 1,
    }


def test_gps_error_matches_reported_accuracy_for_honest_devices(gps):
    # Android's accuracy is the 68 % radius: about 68 % of an honest phone's fixes fall within it.
    error, accuracy = gps["error"], gps["fixes"]["accuracy_m"]
    for where in (~gps["indoor"], gps["indoor"]):
        chosen = gps["honest"] & where & (error <= 150)
        assert chosen.sum() > 20_000
        within = np.mean(error[chosen] <= accuracy[chosen])
        assert 0.65 <= within <= 0.71, within


def test_over_confident_devices_claim_better_accuracy_than_they_have(gps):
    error, accuracy = gps["error"], gps["fixes"]["accuracy_m"]
    chosen = ~gps["honest"] & ~gps["indoor"] & (error <= 150)
    assert chosen.sum() > 2_000
    within = np.mean(error[chosen] <= accuracy[chosen])
    assert within < 0.35, within


def test_gps_accuracy_is_plausible(gps):
    outdoor = gps["fixes"]["accuracy_m"][~gps["indoor"]]
    indoor = gps["fixes"]["accuracy_m"][gps["indoor"]]
    assert outdoor.min() >= 3 and indoor.max() <= 150
    assert 8 <= np.median(outdoor) <= 15  # phones typically say about 10 m outdoors
    assert np.median(indoor) > 2 * np.median(outdoor)  # and much worse indoors


def test_lbs_fixes_are_coarse_and_honest(run):
    lbs = run.fixes[run.fixes["source"] == 1]
    assert len(lbs) > 20_000
    assert lbs["accuracy_m"].min() >= 300 and lbs["accuracy_m"].max() <= 1500
    assert np.isnan(lbs["speed_mps"]).all() and np.isnan(lbs["heading_deg"]).all()
    within = np.mean(_error_m(run.fleet, lbs) <= lbs["accuracy_m"])
    assert 0.65 <= within <= 0.71, within


def test_outliers_occur_at_the_configured_share(gps):
    """Multipath outliers: a small share of GPS fixes land hundreds of metres off, more often indoors."""
    error, accuracy = gps["error"], gps["fixes"]["accuracy_m"]
    # Where honest noise can't reach 150 m (4.5 σ at the most for these accuracies), an error past it is an outlier.
    for where, share in ((~gps["indoor"], stream.OUTLIER_SHARE[0]), (gps["indoor"], stream.OUTLIER_SHARE[1])):
        chosen = gps["honest"] & where & (accuracy <= 50)
        outliers = error[chosen] > 150
        assert outliers.sum() > 50
        assert 0.75 * share <= outliers.mean() <= 1.25 * share, (outliers.mean(), share)
        assert np.median(error[chosen][outliers]) > 300  # hundreds of metres off, not just a bad fix
        assert error[chosen].max() < stream.OUTLIER_M[1] + 200  # and never kilometres


# --- 4, 5. Sampling ---------------------------------------------------------------------------------------------


def _in_true_time_order(run, *, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One source's fixes, duplicates dropped, by person and true time: (person, time, whether each
    consecutive pair belongs to one person)."""
    fixes = _unique_fixes(run.fixes[run.fixes["source"] == source])
    true_t = fixes["ts"] - run.fleet.clock_skew_s[fixes["person"]]
    order = np.lexsort((true_t, fixes["person"]))
    person, t = fixes["person"][order], true_t[order]
    return person, t, person[1:] == person[:-1]


def test_gps_samples_at_each_phones_interval(run):
    """GPS fixes fall on each phone's sampling lattice; the commonest gap is the configured interval, and
    samples go missing only indoors (at INDOOR_GPS_LOSS) or with the phone off."""
    f = run.fleet
    person, t, same = _in_true_time_order(run, source=0)
    gap, owner, after = np.diff(t)[same], person[1:][same], t[:-1][same]
    interval = f.gps_interval_s[owner]
    steps = gap / interval
    assert np.all(np.abs(steps - np.round(steps)) < 1e-4)  # on the lattice: no drift, no jitter
    assert steps.min() > 0.999  # never two fixes closer than the interval

    per_person = np.split(np.round(steps).astype(int), np.flatnonzero(np.diff(owner)) + 1)
    assert len(per_person) == f.size
    commonest = np.array([np.bincount(gaps).argmax() for gaps in per_person])
    assert np.mean(commonest == 1) > 0.97
    # Not the median: indoors (most of a day) 60 % of samples are lost, so a typical gap is two intervals.
    medians = np.array([np.median(gaps) for gaps in per_person])
    assert np.all((medians >= 1) & (medians <= 3)) and np.mean(medians <= 2) > 0.97

    # The samples skipped inside each gap: indoors or switched off, never outdoors with the phone on.
    skipped = np.round(steps).astype(int) - 1
    missing_person = np.repeat(owner, skipped)
    k = np.arange(len(missing_person)) - np.repeat(np.cumsum(skipped) - skipped, skipped) + 1
    missing_t = np.repeat(after, skipped) + k * f.gps_interval_s[missing_person]
    second = missing_t - run.origin_s
    day = np.floor(second / DAY_S).astype(int)
    off = np.zeros(len(missing_t), bool)
    for d in np.unique(day):
        window = run.plans[int(d)].off[missing_person[day == d]]
        s = second[day == d] - d * DAY_S
        off[day == d] = (s >= window[:, 0]) & (s < window[:, 1])
    indoor_missing = run.truth(missing_person[~off], missing_t[~off]).indoor
    assert indoor_missing.all()
    indoor_kept = run.truth(person, t).indoor.sum()
    loss = len(indoor_missing) / (len(indoor_missing) + indoor_kept)
    assert abs(loss - stream.INDOOR_GPS_LOSS) < 0.02, loss


def test_lbs_samples_at_each_phones_interval(run):
    f = run.fleet
    person, t, same = _in_true_time_order(run, source=1)
    steps = np.diff(t)[same] / f.lbs_interval_s[person[1:][same]]
    assert np.all(np.abs(steps - np.round(steps)) < 1e-4) and steps.min() > 0.999
    assert np.mean(np.round(steps) == 1) > 0.9  # network fixes are lost only with the phone off


def test_no_unlabelled_long_gaps(run):
    """Without a phone_off label a phone is never silent for an hour (short gaps are allowed: lifts, battery)."""
    f = run.fleet
    switched_off = {run.person(e) for e in run.episodes if e["kind"] == "phone_off"}
    keep = ~np.isin(run.fixes["person"], list(switched_off))
    person, t = run.fixes["person"][keep], run.true_t[keep]
    order = np.lexsort((t, person))
    person, t = person[order], t[order]
    same = person[1:] == person[:-1]
    gaps = np.diff(t)[same]
    assert len(np.unique(person)) == f.size - len(switched_off)
    assert gaps.max() < 3600, gaps.max()
    # The first and last fixes of the run are near its edges too.
    first = t[np.r_[True, ~same]]
    last = t[np.r_[~same, True]]
    assert first.max() - run.origin_s < 3600
    assert run.origin_s + DURATION_S - last.min() < 3600


# --- 6. Delivery ------------------------------------------------------------------------------------------------


def test_delivery_is_realistic(run):
    fixes, true_t = run.fixes, run.true_t
    # Arrival order across the whole stream; nothing arrives before it is measured.
    assert np.all(np.diff(fixes["sent"]) >= 0)
    assert np.all(fixes["sent"] >= true_t)
    previous = -np.inf
    for chunk in run.chunks:
        if len(chunk.fixes):
            assert chunk.fixes["sent"].min() >= previous and chunk.fixes["sent"].max() < chunk.until
        previous = chunk.until
    assert np.mean(fixes["sent"] - true_t < 3) > 0.95  # most arrive within seconds

    # Duplicates: the same fix (person, source, ts) twice, identical but for when it arrives.
    repeat = _repeats(fixes)
    share = repeat.sum() / (~repeat).sum()
    assert 0.8 * stream.DUPLICATE_SHARE <= share <= 1.2 * stream.DUPLICATE_SHARE, share
    assert not _repeats(fixes[repeat]).any()  # sent twice at most
    ordered = fixes[np.lexsort((fixes["sent"], fixes["ts"], fixes["source"], fixes["person"]))]
    second_copy = _repeats(ordered)  # each right after its original
    copy, original = ordered[second_copy].copy(), ordered[np.r_[second_copy[1:], False]].copy()
    assert np.all(copy["sent"] - original["sent"] >= 5)
    copy["sent"] = original["sent"] = 0
    assert copy.tobytes() == original.tobytes()

    # Out of order: a fix whose phone time is older than one of the same phone that arrived before it.
    unique = fixes[~repeat]
    order = np.lexsort((unique["sent"], unique["person"]))
    person, ts = unique["person"][order], unique["ts"][order]
    start = np.r_[0, np.flatnonzero(person[1:] != person[:-1]) + 1]
    latest = np.concatenate([np.maximum.accumulate(part) for part in np.split(ts, start[1:])])
    late = np.r_[False, (ts[1:] < latest[:-1]) & (person[1:] == person[:-1])]
    assert 0.1 * stream.LATE_SHARE <= late.mean() <= 2 * stream.LATE_SHARE, late.mean()
    assert len(np.unique(person[late])) > 50

    # Buffered bursts: what a phone measures without network arrives only once the network is back.
    plan = run.plans[0]
    offline = np.flatnonzero(np.isfinite(plan.offline[:, 0]))
    assert len(offline) > 10
    day0 = (true_t - run.origin_s) < DAY_S
    second = true_t - run.origin_s
    bursts = 0
    for p in offline:
        begin, end = plan.offline[p]
        during = day0 & (fixes["person"] == p) & (second >= begin) & (second < end)
        bursts += during.any()  # (unless the phone was switched off all along)
        assert np.all(fixes["sent"][during] >= run.origin_s + end)
    assert bursts >= 0.8 * len(offline)


# --- 7, 8. Labels -----------------------------------------------------------------------------------------------


def test_expected_levels(run):
    assert run.episodes
    seen = set()
    for e in run.episodes:
        seen.add(e["kind"])
        if e["kind"] == "phone_off":
            expected = "red" if e["end"] - e["start"] > fleet.PHONE_OFF_RED_S else "yellow"
        else:
            expected = fleet.SCENARIO_LEVELS[e["kind"]]
        assert e["expected_level"] == expected, e
        assert e["start"] <= e["end"], e
    levels = {"exit_short": "yellow", "exit_long": "red", "exclusion_entry": "red", "near_boundary": "none"}
    for kind, level in levels.items():
        assert {e["expected_level"] for e in run.episodes if e["kind"] == kind} == {level}
    assert seen == set(fleet.SCENARIOS)  # a half-scenario fleet of 1000 acts every scenario in a day
    phone_off = [e for e in run.episodes if e["kind"] == "phone_off"]
    assert {e["expected_level"] for e in phone_off} == {"yellow", "red"}


def test_exit_and_exclusion_labels_agree_with_true_paths(run):
    f = run.fleet
    exits = run.day_episodes(0, *EXIT_KINDS)
    entries = run.day_episodes(0, "exclusion_entry")
    assert len(exits) > 50 and len(entries) > 20
    for e in exits:
        p = run.person(e)
        t = np.array([e["start"] - 120, (e["start"] + e["end"]) / 2, e["end"] + 120])
        outside = _distance(run.truth(np.full(3, p), t).xy, f.zone_centre[p]) > f.zone_radius[p]
        assert outside.tolist() == [False, True, False], e
        # Densely: outside throughout the labelled window ...
        inner = np.arange(e["start"] + 10, e["end"] - 10, 10)
        beyond = _distance(run.truth(np.full(len(inner), p), inner).xy, f.zone_centre[p]) - f.zone_radius[p]
        assert np.all(beyond > 0), e
        # ... and as the kind says: minutes and a few hundred metres, or over half an hour and kilometres.
        duration = e["end"] - e["start"]
        if e["kind"] == "exit_short":
            assert duration < 1800 and beyond.max() < 800 + routine.WANDER_M, (e, duration, beyond.max())
        else:
            assert duration > 1800 and beyond.max() > 2000, (e, duration, beyond.max())
    for e in entries:
        p = run.person(e)
        t = np.array([e["start"] - 120, (e["start"] + e["end"]) / 2, e["end"] + 120])
        inside = _distance(run.truth(np.full(3, p), t).xy, f.exclusion_centre[p]) < f.exclusion_radius[p]
        assert inside.tolist() == [False, True, False], e
        inner = np.arange(e["start"] + 10, e["end"] - 10, 10)
        depth = f.exclusion_radius[p] - _distance(run.truth(np.full(len(inner), p), inner).xy, f.exclusion_centre[p])
        assert np.all(depth > 0), e
        # The barred place lies inside the wall: entering it is not also an exit.
        assert _distance(f.exclusion_centre[p], f.zone_centre[p]) < f.zone_radius[p] - f.exclusion_radius[p]


def test_other_labels_agree_with_true_paths(run):
    f = run.fleet
    for e in run.day_episodes(0, "curfew_breach"):
        p = run.person(e)
        assert e["start"] >= run.origin_s + fleet.CURFEW[0] - 10, e
        middle = run.truth([p], [(e["start"] + e["end"]) / 2]).xy
        assert _distance(middle, f.home[p]) > fleet.CURFEW_RADIUS_M
    for e in run.day_episodes(0, "approved_leave"):
        p = run.person(e)
        assert e["leave"]["from"] <= e["start"] < e["end"] <= e["leave"]["to"], e
        middle = run.truth([p], [(e["start"] + e["end"]) / 2]).xy
        assert _distance(middle, f.zone_centre[p]) > f.zone_radius[p] + 10_000  # far away on the trip
    meetings = run.day_episodes(0, "meeting")
    assert meetings
    for e in meetings:
        p, q = run.person(e), f.codes.index(e["partner"])
        assert f.partner[p] == q and f.partner[q] == p
        t = np.arange(e["start"], e["end"], 60)
        together = _distance(run.truth(np.full(len(t), p), t).xy, run.truth(np.full(len(t), q), t).xy)
        assert together.max() < 50, e
    visits = run.day_episodes(0, "place_visit")
    assert visits
    for e in visits:
        p = run.person(e)
        place = np.array(f.city.to_xy(e["place"]["lon"], e["place"]["lat"]))
        t = np.arange(e["start"], e["end"], 60)
        assert _distance(run.truth(np.full(len(t), p), t).xy, place).max() < 50, e


def test_rollcall_labels_agree_with_answers(run):
    f = run.fleet
    rollcalls = np.concatenate([c.rollcalls for c in run.chunks])
    assert len(rollcalls) == f.size  # one per person on day 0; day 1's come after the run
    labelled = {(run.person(e), e["kind"]): e for e in run.day_episodes(0, "rollcall_missed", "rollcall_late")}
    assert {kind for _, kind in labelled} == {"rollcall_missed", "rollcall_late"}
    for r in rollcalls:
        p = int(r["person"])
        if (p, "rollcall_missed") in labelled:
            assert np.isnan(r["answered"])
        else:
            assert r["answered"] > r["issued"]
        if (p, "rollcall_late") in labelled:
            episode = labelled[p, "rollcall_late"]
            assert (episode["start"], episode["end"]) == (r["issued"], r["answered"])
            assert r["answered"] - r["issued"] >= 900
    no_scenario = f.scenario[rollcalls["person"]] < 0
    prompt = rollcalls["answered"][no_scenario] - rollcalls["issued"][no_scenario]
    assert np.mean(prompt <= 240) > 0.9
    # A switched-off phone neither hears a roll call nor answers one: the answer comes once it is back on.
    off = run.plans[0].off[rollcalls["person"]] + run.origin_s
    answered_while_off = (rollcalls["answered"] >= off[:, 0]) & (rollcalls["answered"] < off[:, 1])
    issued_while_off = (rollcalls["issued"] >= off[:, 0]) & (rollcalls["issued"] < off[:, 1])
    assert issued_while_off.sum() > 10
    assert not answered_while_off.any()


def test_near_boundary_and_drift_only_people_never_leave(run):
    f = run.fleet
    profile = np.flatnonzero(np.isin(f.scenario, [fleet.SCENARIOS.index(k) for k in fleet.PROFILE_SCENARIOS]))
    assert len(profile) > 30
    # They live 60-150 m inside the wall.
    edge = f.zone_radius[profile] - _distance(f.home[profile], f.zone_centre[profile])
    assert edge.min() >= 60 and edge.max() <= 150
    for day in (0, 1):
        person, _, xy = _day_grid(run, profile, 30, day)
        assert np.all(_distance(xy, f.zone_centre[person]) <= f.zone_radius[person])
    labelled = {run.person(e) for e in run.day_episodes(0, *fleet.PROFILE_SCENARIOS)}
    assert labelled == set(profile.tolist())


def test_drift_only_fixes_cross_the_wall_while_the_person_stays_inside(run):
    f = run.fleet
    drift = np.flatnonzero(f.scenario == fleet.SCENARIOS.index("drift_only"))
    fixes = run.fixes[np.isin(run.fixes["person"], drift) & (run.fixes["source"] == 0)]
    reported = _distance(_reported_xy(f, fixes), f.zone_centre[fixes["person"]]) > f.zone_radius[fixes["person"]]
    true = _distance(_true_xy(f, fixes), f.zone_centre[fixes["person"]]) > f.zone_radius[fixes["person"]]
    assert not true.any()
    assert reported.mean() > 0.05
    assert len(np.unique(fixes["person"][reported])) >= 0.8 * len(drift)


def test_people_without_a_scenario_keep_every_rule(run):
    f = run.fleet
    people = np.flatnonzero(f.scenario < 0)
    assert len(people) > 300
    person, second, xy = _day_grid(run, people, 60)
    assert np.all(_distance(xy, f.zone_centre[person]) <= f.zone_radius[person])
    barred = np.isfinite(f.exclusion_centre[person, 0])
    assert barred.any()
    assert np.all(_distance(xy[barred], f.exclusion_centre[person[barred]]) >= f.exclusion_radius[person[barred]])
    curfew = (second >= fleet.CURFEW[0]) | (second < fleet.CURFEW[1])
    assert np.all(_distance(xy[curfew], f.home[person[curfew]]) <= fleet.CURFEW_RADIUS_M)


def test_every_violation_is_labelled(run):
    """Whatever a true path does against the rules lies inside an episode labelled for it."""
    f = run.fleet
    people = np.arange(f.size)
    person, second, xy = _day_grid(run, people, 60)
    epoch = run.origin_s + second
    covered = {rule: np.zeros(len(person), bool) for rule in ("inclusion", "exclusion", "curfew")}
    rules = {
        "exit_short": "inclusion",
        "exit_long": "inclusion",
        "approved_leave": "inclusion",
        "exclusion_entry": "exclusion",
        "curfew_breach": "curfew",
    }
    for e in run.day_episodes(0, *rules):
        p = run.person(e)
        rows = slice(p * (DAY_S // 60), (p + 1) * (DAY_S // 60))
        covered[rules[e["kind"]]][rows] |= (epoch[rows] >= e["start"] - 5) & (epoch[rows] <= e["end"] + 5)
    outside = _distance(xy, f.zone_centre[person]) > f.zone_radius[person]
    barred = np.isfinite(f.exclusion_centre[person, 0])
    entered = np.zeros(len(person), bool)
    entered[barred] = _distance(xy[barred], f.exclusion_centre[person[barred]]) < f.exclusion_radius[person[barred]]
    curfew = (second >= fleet.CURFEW[0]) | (second < fleet.CURFEW[1])
    away = curfew & (_distance(xy, f.home[person]) > fleet.CURFEW_RADIUS_M)
    for rule, broken in (("inclusion", outside), ("exclusion", entered), ("curfew", away)):
        unlabelled = broken & ~covered[rule]
        assert not unlabelled.any(), (rule, sorted({f.scenario_name(p) for p in person[unlabelled]}))


def test_phone_off_means_no_fixes_at_all(run):
    episodes = [e for e in run.episodes if e["kind"] == "phone_off"]
    assert len(episodes) > 20
    for e in episodes:
        p = run.person(e)
        mine = run.fixes["person"] == p
        during = mine & (run.true_t >= e["start"]) & (run.true_t < e["end"])
        assert not during.any(), e
        # ... and it is on right before and after (within the slowest network sampling interval).
        before = run.true_t[mine & (run.true_t < e["start"])]
        after = run.true_t[mine & (run.true_t >= e["end"])]
        assert e["start"] - before.max() <= run.fleet.lbs_interval_s[p] + 1
        assert after.min() - e["end"] <= run.fleet.lbs_interval_s[p] + 1


# --- 9. Scale ---------------------------------------------------------------------------------------------------

_LARGE_FLEET = """
import json, re, sys
from datetime import datetime
import numpy as np
from simulators import city, fleet, stream
f = fleet.build(city.PRESETS["benxi"], 20_000, seed=5)
start = datetime(2024, 5, 7, 10, 0, tzinfo=stream.LOCAL)
chunks = fixes = 0
people = set()
for chunk in stream.run(f, start=start, duration_s=1800):
    chunks += 1
    fixes += len(chunk.fixes)
    people.update(np.unique(chunk.fixes["person"]).tolist())
json.dump({
    "chunks": chunks, "fixes": fixes, "people": len(people),
    "gps_samples": float((1800 / f.gps_interval_s).sum()), "lbs_samples": float((1800 / f.lbs_interval_s).sum()),
    # This process's peak resident memory (ru_maxrss would count the parent's too: it survives fork and exec).
    "peak_mb": int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]) / 1024,
}, sys.stdout)
"""


def test_a_large_fleet_streams_in_modest_memory():
    """20,000 people for half an hour, in a fresh process so its peak memory is its own."""
    done = subprocess.run([sys.executable, "-c", _LARGE_FLEET], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["chunks"] >= 2
    assert report["people"] > 19_000
    # Every GPS sample indoors survives with probability 0.4, outdoors always; LBS always (few are switched off).
    low = (1 - stream.INDOOR_GPS_LOSS) * report["gps_samples"] + 0.9 * report["lbs_samples"]
    high = (report["gps_samples"] + report["lbs_samples"]) * (1 + 2 * stream.DUPLICATE_SHARE)
    assert low <= report["fixes"] <= high, report
    assert report["peak_mb"] < 400, report


def test_the_stream_is_lazy():
    """An endless run yields its first windows without computing the rest."""
    f = fleet.build(city.PRESETS["gaoqing"], 200, seed=3)
    chunks = list(islice(stream.run(f, start=START.replace(hour=9, minute=7), duration_s=None), 3))
    assert [c.until - chunks[0].until for c in chunks] == [0, stream.WINDOW_S, 2 * stream.WINDOW_S]
    assert all(len(c.fixes) for c in chunks)


# --- 10. Cities -------------------------------------------------------------------------------------------------


def test_parse_city_presets_and_bbox():
    gaoqing = city.parse_city("gaoqing")
    assert gaoqing is city.PRESETS["gaoqing"]
    box = city.parse_city("bbox:123.7,41.2,123.8,41.3")
    assert (box.west, box.south, box.east, box.north) == (123.7, 41.2, 123.8, 41.3)
    assert box.districts == ()
    half_w, half_h = box.half_size_m
    assert 4_000 < half_w < 4_300 and 5_400 < half_h < 5_600  # 0.1° of longitude at 41.25° N, of latitude
    f = fleet.build(box, 300, seed=2)
    lon, lat = box.to_lonlat(f.home[:, 0], f.home[:, 1])
    assert np.all((lon >= box.west) & (lon <= box.east) & (lat >= box.south) & (lat <= box.north))
    x, y = box.to_xy(*box.to_lonlat(f.home[:, 0], f.home[:, 1]))
    assert np.allclose(np.stack([x, y], axis=1), f.home)


def test_parse_city_geojson_keeps_homes_inside_the_districts(tmp_path):
    # An L-shaped district: its bounding box holds plenty of room for homes that would be outside it.
    district = Polygon([(117.0, 36.0), (117.1, 36.0), (117.1, 36.03), (117.03, 36.03), (117.03, 36.1), (117.0, 36.1)])
    path = tmp_path / "zibo.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(district)}],
            }
        )
    )
    parsed = city.parse_city(str(path))
    assert parsed.name == "zibo"
    assert (parsed.west, parsed.south, parsed.east, parsed.north) == pytest.approx((117.0, 36.0, 117.1, 36.1))
    assert len(parsed.districts) == 1 and parsed.districts[0].equals(district)
    f = fleet.build(parsed, 500, seed=4)
    lon, lat = parsed.to_lonlat(f.home[:, 0], f.home[:, 1])
    assert shapely.contains_xy(district, lon, lat).all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("atlantis", "not one of"),
        ("bbox:123.7,41.2,123.8", "bbox must be bbox:west,south,east,north"),
        ("bbox:a,b,c,d", "bbox must be"),
        ("bbox:123.8,41.2,123.7,41.3", "west < east"),
        ("bbox:0,89,1,90", "within the globe"),
    ],
)
def test_parse_city_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        city.parse_city(spec)


def test_parse_city_rejects_geojson_without_polygons(tmp_path):
    path = tmp_path / "points.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.0, 36.0]}}))
    with pytest.raises(ValueError, match="no valid Polygon"):
        city.parse_city(str(path))
