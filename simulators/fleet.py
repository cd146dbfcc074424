"""A synthetic supervised fleet: who the people are, where they live and go, their zones, their
phones' habits, and which labelled scenario each of them acts out.

Everything is drawn from one seed, person by person in a fixed order, so the same seed always gives
the same fleet. Positions are metres on the city's local plane (see ``city``)."""

from dataclasses import dataclass

import numpy as np

from simulators.city import City

# Labelled scenarios and the alert level a correct platform raises for each ("none": no alert).
SCENARIO_LEVELS = {
    "exit_short": "yellow",  # out of the electronic wall for minutes, a few hundred metres
    "exit_long": "red",  # out for over half an hour, kilometres away
    "exclusion_entry": "red",  # into a barred place (victim's home, school)
    "curfew_breach": "yellow",  # away from home during the 22:00-06:00 curfew
    "approved_leave": "none",  # a day trip on approved travel leave (请假外出)
    "near_boundary": "none",  # lives just inside the wall
    "drift_only": "none",  # stays home near the wall while the phone's fixes drift across it
    "phone_off": "yellow",  # switched off for hours (脱管); red beyond PHONE_OFF_RED_S
    "rollcall_late": "yellow",  # answers a roll call (点名) late
    "rollcall_missed": "red",  # never answers
    "meeting": "none",  # two supervisees meet (聚集): for analysis, not an alert
    "place_visit": "none",  # at a given place at a given time: for "who was there" queries
}
SCENARIOS = tuple(SCENARIO_LEVELS)
PROFILE_SCENARIOS = ("near_boundary", "drift_only")  # properties of the person, not events of a day
PHONE_OFF_RED_S = 6 * 3600
# The platform's default thresholds for red out of the wall (EWALL_ALERT_INCLUSION_RED_AFTER_MIN and
# _DISTANCE_M), which the demo's labels follow.
RED_AFTER_S = 30 * 60
RED_DISTANCE_M = 2000.0
CURFEW = (22 * 3600, 6 * 3600)  # local time of day: 22:00 to 06:00
CURFEW_RADIUS_M = 150.0
ROUTINE_MARGIN_M = 300.0  # routine places stay this far inside the wall
PLACES_PER_PERSON = 4
GPS_INTERVALS_S = np.array([30, 60, 120, 300])
GPS_INTERVAL_SHARE = np.array([0.3, 0.35, 0.2, 0.15])
DATUMS = ("wgs84", "gcj02", "bd09")


@dataclass
class Fleet:
    city: City
    seed: int
    codes: list[str]  # supervisee codes
    device_keys: list[str]  # the id each phone reports (OsmAnd id / OwnTracks user)
    home: np.ndarray  # (n, 2) metres
    zone_centre: np.ndarray  # (n, 2) the inclusion zone (electronic wall), a circle
    zone_radius: np.ndarray  # (n,)
    work: np.ndarray  # (n, 2), NaN: no workplace
    places: np.ndarray  # (n, PLACES_PER_PERSON, 2) errands, friends, shops
    place_camera: np.ndarray  # (n, PLACES_PER_PERSON) camera index at that place, -1: none
    exclusion_centre: np.ndarray  # (n, 2), NaN: no barred place
    exclusion_radius: np.ndarray  # (n,)
    has_car: np.ndarray  # (n,) bool
    scenario: np.ndarray  # (n,) index into SCENARIOS, -1: none
    partner: np.ndarray  # (n,) meeting partner, -1: none
    office_day: np.ndarray  # (n,) weekday of the weekly check-in at the judicial office (报到)
    # The phone.
    gps_interval_s: np.ndarray  # (n,)
    lbs_interval_s: np.ndarray  # (n,)
    accuracy_median_m: np.ndarray  # (n,) typical reported GPS accuracy outdoors
    overconfidence: np.ndarray  # (n,) true error / what the reported accuracy implies (1: honest)
    datum: np.ndarray  # (n,) index into DATUMS: the datum the phone reports in
    clock_skew_s: np.ndarray  # (n,)
    battery_drain_pct_h: np.ndarray  # (n,)
    cameras: np.ndarray  # (c, 2) camera positions; camera 0 is the judicial office
    # Set by the planner, per run: time of day (s) of the daily roll call.
    rollcall_s: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.codes)

    def scenario_name(self, person: int) -> str | None:
        return SCENARIOS[self.scenario[person]] if self.scenario[person] >= 0 else None


def _circle_points(rng: np.random.Generator, centre: np.ndarray, radius: np.ndarray, count: int) -> np.ndarray:
    """``count`` points per person, uniform over each disc."""
    angle = rng.uniform(0, 2 * np.pi, (len(centre), count))
    distance = radius[:, None] * np.sqrt(rng.uniform(0, 1, (len(centre), count)))
    return centre[:, None, :] + np.stack([np.cos(angle), np.sin(angle)], axis=-1) * distance[..., None]


def build(city: City, size: int, *, seed: int = 1, scenario_share: float = 0.2) -> Fleet:
    """Draw a fleet of ``size`` supervisees; ``scenario_share`` of them act out a labelled scenario."""
    if size < 1:
        raise ValueError("a fleet needs at least one supervisee")
    if not 0 <= scenario_share <= 1:
        raise ValueError("scenario_share is a fraction between 0 and 1")
    rng = np.random.default_rng(seed)
    home = city.homes(rng, size)
    radius = rng.uniform(2500, 6000, size)
    scenario = np.where(rng.uniform(0, 1, size) < scenario_share, rng.integers(0, len(SCENARIOS), size), -1)
    near = np.isin(scenario, [SCENARIOS.index(s) for s in PROFILE_SCENARIOS])
    # The wall is centred off the home; people in a near-boundary scenario live 60-150 m inside it.
    inset = np.where(near, rng.uniform(60, 150, size), rng.uniform(0.1, 0.5, size) * radius)
    bearing = rng.uniform(0, 2 * np.pi, size)
    centre = home + np.stack([np.cos(bearing), np.sin(bearing)], axis=1) * (radius - inset)[:, None]

    routine_radius = radius - ROUTINE_MARGIN_M
    places = _circle_points(rng, centre, routine_radius, PLACES_PER_PERSON + 1)
    has_work = rng.uniform(0, 1, size) < 0.65
    work = np.where(has_work[:, None], places[:, 0], np.nan)
    places = places[:, 1:]

    camera_count = max(1, size // 20)
    office = np.zeros((1, 2))
    cameras = np.concatenate([office, rng.uniform(-1, 1, (camera_count, 2)) * city.half_size_m])
    # A camera watches some of the places people go to: move a share of places onto cameras' spots.
    place_camera = np.where(
        rng.uniform(0, 1, places.shape[:2]) < 0.3, rng.integers(1, len(cameras), places.shape[:2]), -1
    )
    on_camera = place_camera >= 0
    moved = cameras[np.maximum(place_camera, 0)]
    within = np.hypot(*np.moveaxis(moved - centre[:, None], -1, 0)) < routine_radius[:, None]
    place_camera = np.where(on_camera & within, place_camera, -1)
    places = np.where((place_camera >= 0)[..., None], moved, places)

    # Barred places sit inside the wall but away from everything the person routinely visits, so only
    # a labelled entry ever goes in (routine paths stay within the bounding box of their stops).
    exclusion_radius = rng.uniform(100, 200, size)
    exclusion_centre = np.full((size, 2), np.nan)
    wants_exclusion = (scenario == SCENARIOS.index("exclusion_entry")) | (rng.uniform(0, 1, size) < 0.3)
    candidates = _circle_points(rng, centre, routine_radius, 24)
    stops = np.concatenate([home[:, None], np.nan_to_num(work[:, None], nan=home[:, None]), places], axis=1)
    low, high = stops.min(axis=1), stops.max(axis=1)
    margin = (exclusion_radius + 400)[:, None, None]
    clear = (candidates < low[:, None] - margin).any(axis=2) | (candidates > high[:, None] + margin).any(axis=2)
    found = clear.any(axis=1) & wants_exclusion
    first = clear.argmax(axis=1)
    exclusion_centre[found] = candidates[found, first[found]]
    # Without room for a barred place an exclusion scenario becomes a short exit.
    scenario[(scenario == SCENARIOS.index("exclusion_entry")) & ~found] = SCENARIOS.index("exit_short")

    partner = np.full(size, -1)
    meeting = np.flatnonzero(scenario == SCENARIOS.index("meeting"))
    for a, b in zip(meeting[0::2], meeting[1::2], strict=False):
        point = (home[a] + home[b]) / 2
        inside = all(np.hypot(*(point - centre[p])) < radius[p] - ROUTINE_MARGIN_M for p in (a, b))
        if inside:
            partner[a], partner[b] = b, a
    scenario[(scenario == SCENARIOS.index("meeting")) & (partner < 0)] = SCENARIOS.index("place_visit")

    gps_interval = rng.choice(GPS_INTERVALS_S, size, p=GPS_INTERVAL_SHARE).astype(float)
    overconfident = rng.uniform(0, 1, size) < 0.15
    drift = scenario == SCENARIOS.index("drift_only")
    skewed = rng.uniform(0, 1, size) < 0.05
    key_bytes = rng.integers(0, 256, (size, 16), dtype=np.uint8)
    return Fleet(
        city=city,
        seed=seed,
        codes=[f"SIM{seed:03d}-{i + 1:06d}" for i in range(size)],
        device_keys=[row.tobytes().hex() for row in key_bytes],
        home=home,
        zone_centre=centre,
        zone_radius=radius,
        work=work,
        places=places,
        place_camera=place_camera,
        exclusion_centre=exclusion_centre,
        exclusion_radius=exclusion_radius,
        has_car=rng.uniform(0, 1, size) < 0.3,
        scenario=scenario,
        partner=partner,
        office_day=rng.integers(0, 5, size),
        gps_interval_s=gps_interval,
        lbs_interval_s=rng.uniform(300, 1800, size),
        accuracy_median_m=np.where(
            drift, rng.uniform(30, 60, size), np.clip(rng.lognormal(np.log(10), 0.3, size), 4, 25)
        ),
        overconfidence=np.where(overconfident | drift, rng.uniform(2, 4, size), 1.0),
        datum=rng.choice(len(DATUMS), size, p=[0.7, 0.25, 0.05]),
        clock_skew_s=np.where(skewed, rng.uniform(-120, 120, size), rng.normal(0, 1.5, size)),
        battery_drain_pct_h=rng.uniform(3, 8, size),
        cameras=cameras,
    )
