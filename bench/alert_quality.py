"""Alert quality: a labelled simulated fleet (urban noise, outliers, LBS fixes, indoor gaps,
switch-offs, duplicates, late and buffered delivery) runs through the real geofence engine and
the real alert rules, fed in arrival order one minute at a time; alert episodes are matched to the
ground-truth episodes. Prints precision, recall, level agreement, median detection delay and false
alerts per person-day for ewall and for a naive baseline on the same data (an alert whenever a raw
fix is outside, ignoring accuracy and dwell). Last stdout line: one JSON object.

Next to the recall, on stderr: the recall over the episodes the data can show at all, those during
whose labelled window the phone reported at least ``exit_confirm_fixes`` GPS fixes (accuracy under
the engine's band) whose accuracy circles lie wholly on the wrong side of the episode's zone, counted
from the fixes and the zone's geometry alone. A phone reporting every 5 minutes shows a 10-minute
exit in two fixes at most; the figure says how many such episodes there were, it is not the target.

Scored: the zone scenarios (exits short and long, barred places, curfew breaches) as positives;
approved leave, living near the wall and drift only as people who must raise nothing. Roll calls
and phones switched off are alerted by timers, not by fixes, and are not scored here."""

import itertools
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely
from tqdm import tqdm

from alerts import policy, rules
from bench import common, simulated
from geofence import engine
from geofence.config import Thresholds, get_geofence_settings
from geofence.models import ZoneKind
from geofence.tracks import Tracks
from simulators import city, demo, fleet, stream

SCORED = {
    "exit_short": rules.INCLUSION_EXIT,
    "exit_long": rules.INCLUSION_EXIT,
    "exclusion_entry": rules.EXCLUSION_ENTRY,
    "curfew_breach": rules.CURFEW_BREACH,
}
SLACK_S = 600  # an alert matches a labelled episode it overlaps, give or take this
ARRIVAL_STEP_S = 60
NAIVE = Thresholds(
    exit_confirm_fixes=1,
    exit_confirm_s=0,
    return_confirm_fixes=1,
    return_confirm_s=0,
    evidence_interval_s=60,
    centroid_check=False,
)


@dataclass
class Episode:
    """An alert episode as the alert service would keep it."""

    supervisee_id: int
    rule: str
    start_s: float
    detected_s: float  # when the platform knew: the end of the arrival minute that confirmed it
    level: str
    end_s: float = float("inf")
    evidence: list = field(default_factory=list)


class Platform:
    """The engine and the rules in one process, applied to batches as they arrive."""

    def __init__(self, people: fleet.Fleet, track_thresholds: Thresholds, raw: bool):
        self.people, self.raw = people, raw
        self.zones = simulated.rule_zones(people)
        self.index = engine.ZoneIndex(self.zones)
        self.tracks = Tracks(track_thresholds)
        self.policy = policy.defaults()
        self.live: dict[tuple, Episode] = {}
        self.episodes: list[Episode] = []

    def add_leave(self, episodes: list[dict]) -> None:
        episodes = [_with_way_home(self.people, e) for e in episodes]
        leave = simulated.leave_zones(self.people, episodes, first_id=max(z.id for z in self.zones) + 1)
        if leave:
            self.zones += leave
            self.index = engine.ZoneIndex(self.zones, previous=self.index)

    def feed(self, fixes: dict[str, np.ndarray], now_s: float) -> None:
        if self.raw:  # the naive design: every raw fix is taken at face value
            fixes = fixes | {"accuracy_m": np.zeros(len(fixes["accuracy_m"]))}
        for event in self.tracks.advance(self.index, engine.observe(self.index, fixes, 30.0), fixes):
            self._apply(event.as_dict(), now_s)

    def _apply(self, event: dict, now_s: float) -> None:
        decision = rules.decide(event, self.policy)
        key = (event["supervisee_id"], decision.rule, event["zone_id"])
        live = self.live.get(key)
        if not decision.opens:
            if live is not None:
                live.end_s = event["ts_us"] / 1e6
                del self.live[key]
            return
        if live is None:
            live = self.live[key] = Episode(
                event["supervisee_id"], decision.rule, event["started_us"] / 1e6, now_s, str(decision.level)
            )
            self.episodes.append(live)
        elif decision.level == "red":
            live.level = "red"


def _with_way_home(people: fleet.Fleet, episode: dict) -> dict:
    """Travel leave as an officer registers it: the way there and the way back home. The simulator's
    route is only the way there, from wherever the trip began (an errand, say); the way home from
    the destination can run kilometres outside that corridor, and an alert there is no error."""
    if episode["kind"] != "approved_leave":
        return episode
    lon, lat = people.city.to_lonlat(*people.home[people.codes.index(episode["supervisee"])])
    route = [*episode["leave"]["route"], [float(lon), float(lat)]]
    return episode | {"leave": episode["leave"] | {"route": route}}


class Evidence:
    """The fixes of people with a scored episode, to tell from the data alone which episodes the
    phone showed at all: a labelled window with at least ``needed`` precise fixes wholly on the
    wrong side of the episode's zone (its own geometry, in the city's metric plane)."""

    def __init__(self, people: fleet.Fleet, zones: list, needed: int):
        self.people, self.needed = people, needed
        self.zone: dict[tuple[int, str], shapely.Geometry] = {}
        for z in zones:
            kind = (
                rules.EXCLUSION_ENTRY
                if z.kind == ZoneKind.exclusion
                else rules.CURFEW_BREACH
                if z.schedule
                else rules.INCLUSION_EXIT
            )
            if not z.travel_leave:
                plane = shapely.transform(z.geometry, lambda lonlat: np.column_stack(people.city.to_xy(*lonlat.T)))
                self.zone[(z.supervisee_ids[0], kind)] = plane
        self.wanted: set[int] = set()
        self.fixes: list[dict[str, np.ndarray]] = []

    def add(self, episodes: list[dict], fixes: dict[str, np.ndarray]) -> None:
        self.wanted |= {self._person(e) for e in episodes if e["kind"] in SCORED}
        mine = np.isin(fixes["supervisee_id"], list(self.wanted)) & (fixes["accuracy_m"] < engine.BAND_M)
        self.fixes.append({k: fixes[k][mine] for k in ("supervisee_id", "ts_us", "lat", "lon", "accuracy_m")})

    def _person(self, truth: dict) -> int:
        return simulated.supervisee_id(self.people.codes.index(truth["supervisee"]))

    def shown(self, truths: list[dict]) -> list[dict]:
        """The truths the phone showed in at least ``needed`` fixes wholly on the wrong side."""
        columns = {k: np.concatenate([f[k] for f in self.fixes]) for k in self.fixes[0]} if self.fixes else {}
        shown = []
        for t in truths:
            person, rule = self._person(t), SCORED[t["kind"]]
            seen = (columns["supervisee_id"] == person) & (columns["ts_us"] >= t["start"] * 1e6)
            seen &= columns["ts_us"] <= t["end"] * 1e6
            _, unique = np.unique(columns["ts_us"][seen], return_index=True)  # duplicates once
            rows = {k: v[seen][unique] for k, v in columns.items()}
            x, y = self.people.city.to_xy(rows["lon"], rows["lat"])
            zone = self.zone[(person, rule)]
            inside = shapely.contains_xy(zone, x, y)
            clear = shapely.distance(zone.boundary, shapely.points(x, y)) > rows["accuracy_m"]
            wrong = clear & (inside if rule == rules.EXCLUSION_ENTRY else ~inside)
            if np.count_nonzero(wrong) >= self.needed:
                shown.append(t)
        return shown


def _overlaps(episode: Episode, truth: dict) -> bool:
    return episode.start_s <= truth["end"] + SLACK_S and episode.end_s >= truth["start"] - SLACK_S


def score(platform: Platform, truths: list[dict], person_days: float, evidence: Evidence | None = None) -> dict:
    people = platform.people
    positives = [t for t in truths if t["kind"] in SCORED]
    by_person: dict[int, list[dict]] = {}
    for t in positives:
        by_person.setdefault(simulated.supervisee_id(people.codes.index(t["supervisee"])), []).append(t)
    matched_truths: dict[int, Episode] = {}
    true_alerts = 0
    for episode in platform.episodes:
        hits = [
            t
            for t in by_person.get(episode.supervisee_id, [])
            if SCORED[t["kind"]] == episode.rule and _overlaps(episode, t)
        ]
        true_alerts += bool(hits)
        for t in hits:
            matched_truths.setdefault(id(t), episode)
    alerts = len(platform.episodes)
    delays = [max(0.0, episode.detected_s - t["start"]) for t in positives if (episode := matched_truths.get(id(t)))]
    levels = [matched_truths[id(t)].level == t["expected_level"] for t in positives if id(t) in matched_truths]
    shown = evidence.shown(positives) if evidence else positives
    return {
        "alerts": alerts,
        "precision": true_alerts / alerts if alerts else 1.0,
        "recall": len(matched_truths) / len(positives) if positives else 1.0,
        "recall_shown": sum(id(t) in matched_truths for t in shown) / len(shown) if shown else 1.0,
        "level_agreement": sum(levels) / len(levels) if levels else 1.0,
        "median_delay_min": statistics.median(delays) / 60 if delays else float("nan"),
        "false_alerts_per_person_day": (alerts - true_alerts) / person_days,
        "labelled": len(positives),
        "shown": len(shown),
    }


def run(people: fleet.Fleet, days: float) -> tuple[dict, dict]:
    ewall, naive, evidence, truths = replay(people, datetime(2026, 11, 16, tzinfo=UTC), days * 86_400)
    person_days = people.size * days
    return score(ewall, truths, person_days, evidence), score(naive, truths, person_days, evidence)


def replay(
    people: fleet.Fleet,
    start: datetime,
    duration_s: float,
    schedule: demo.Schedule | None = None,
    progress: bool = True,
) -> tuple[Platform, Platform, Evidence, list[dict]]:
    """The fleet's stream (with the demo's violations, if given) through ewall and the naive design,
    by arrival minute: both platforms, the evidence and the ground truth."""
    settings = get_geofence_settings()
    ewall = Platform(people, settings.thresholds(), raw=False)
    naive = Platform(people, NAIVE, raw=True)
    evidence = Evidence(people, ewall.zones, settings.exit_confirm_fixes)
    truths: list[dict] = []
    chunks = stream.run(people, start=start, duration_s=duration_s, demo=schedule)
    total = int(duration_s // stream.WINDOW_S) + 1
    for chunk in tqdm(chunks, total=total, desc="simulated 15 min", file=sys.stderr, disable=not progress):
        truths += chunk.episodes
        for platform in (ewall, naive):
            platform.add_leave(chunk.episodes)
        if not len(chunk.fixes):
            continue
        fixes = simulated.fix_columns(chunk)
        evidence.add(chunk.episodes, fixes)
        minute = (fixes["sent_us"] // (ARRIVAL_STEP_S * 1_000_000)).astype(np.int64)
        bounds = np.flatnonzero(np.r_[True, minute[1:] != minute[:-1], True])
        for a, b in itertools.pairwise(bounds.tolist()):
            batch = {k: v[a:b] for k, v in fixes.items()}
            now_s = (int(minute[a]) + 1) * ARRIVAL_STEP_S
            for platform in (ewall, naive):
                platform.feed(batch, now_s)
    return ewall, naive, evidence, truths


def main(quick: bool = False) -> int:
    people = fleet.build(city.PRESETS["benxi"], 300 if quick else 1_000, seed=7, scenario_share=0.5)
    days = 1 if quick else 3
    ours, naive = run(people, days)
    for name, result in (("ewall", ours), ("naive", naive)):
        print(
            f"{name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()),
            file=sys.stderr,
        )
    # The figure: the weaker of precision and recall, both targeted at 0.99.
    value = min(ours["precision"], ours["recall"])
    common.report(
        "alert-quality",
        "min_precision_recall",
        value * 1000,
        "per mille",
        "naive: an alert whenever a raw fix is outside",
        max(min(naive["precision"], naive["recall"]), 1e-3) * 1000,
        "precision >= 0.99 and recall >= 0.99",
    )
    return 0
