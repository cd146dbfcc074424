"""A supervisee's track for replay and export: the audited read, speeds, gaps, the line thinned for
drawing with its coloured runs, and the GPX 1.1 and GeoJSON documents."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import numpy as np
from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from caseload import service as caseload_service
from caseload.models import Officer, Supervisee
from core.errors import Invalid
from core.timezones import utcnow
from core.wire import SOURCES, FixSource
from tracker_ingest import positions

MAX_TRACK_SPAN = timedelta(days=31)
DEFAULT_TRACK_SPAN = timedelta(days=1)
# A week of phone fixes at one a minute is about 10,000; a month of a 15-second tracker's is 170,000.
TRACK_FIXES_MAX = 50_000
# Upper bounds of the speed classes: still, walking, cycling, road traffic, above 72 km/h.
SPEED_BOUNDS_MPS = (0.5, 2.0, 7.0, 20.0)
SPEED_LABELS = ("静止 still", "步行 walking", "骑行 cycling", "车行 driving", "高速 fast >72 km/h")
SOURCE_LABELS = {
    FixSource.gps: "手机GPS phone GPS",
    FixSource.network: "网络定位 network",
    FixSource.lbs: "基站 cell (LBS)",
    FixSource.cctv: "摄像头 camera",
    FixSource.checkin: "报到 check-in",
}
SOURCE_CODE = {source.value: code for code, source in enumerate(SOURCES)}
# A week of phone fixes (~50,000) still draws quickly as a line of a few thousand vertices; the
# slider keeps every fix.
DRAW_POINTS_MAX = 4000
_EARTH_RADIUS_M = 6_371_008.8
_METRES_PER_DEGREE = 111_195.0
GPX_NS = "http://www.topografix.com/GPX/1/1"


@dataclass(frozen=True)
class NearestFix:
    lat: float
    lon: float
    accuracy_m: float | None
    ts: datetime


# For each (supervisee, moment): the fix nearest in time within the window, from any source but the
# phone page's own device (kind web), whose position is what is being checked against the tracker.
_NEAREST_FIXES = text(
    """
    SELECT q.i, f.lat, f.lon, f.accuracy_m, f.ts
    FROM unnest(CAST(:supervisee_ids AS integer[]), CAST(:moments AS timestamptz[]))
         WITH ORDINALITY AS q(supervisee_id, at, i)
    CROSS JOIN LATERAL (
        SELECT f.lat, f.lon, f.accuracy_m, f.ts
        FROM fix f
        WHERE f.supervisee_id = q.supervisee_id
          AND f.ts BETWEEN q.at - :window AND q.at + :window
          AND NOT EXISTS (SELECT 1 FROM device d WHERE d.id = f.device_id AND d.kind = 'web')
        ORDER BY abs(extract(epoch FROM f.ts - q.at))
        LIMIT 1
    ) f
    """
)


def nearest_fixes(
    session: Session, *, moments: Sequence[tuple[int, datetime]], window: timedelta
) -> list[NearestFix | None]:
    """The tracker's position at each (supervisee_id, moment), in one query: per pair the fix nearest
    in time within ±window from a device other than the phone page, or None where there is none."""
    if not moments:
        return []
    rows = session.execute(
        _NEAREST_FIXES,
        {"supervisee_ids": [s for s, _ in moments], "moments": [at for _, at in moments], "window": window},
    )
    found: list[NearestFix | None] = [None] * len(moments)
    for i, lat, lon, accuracy_m, ts in rows:
        found[i - 1] = NearestFix(lat, lon, accuracy_m, ts)
    return found


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The asked window with its defaults (the last day, up to now), or Invalid with what to change."""
    until = until or utcnow()
    since = since or until - DEFAULT_TRACK_SPAN
    if since >= until:
        raise Invalid("'from' must be before 'to'")
    if until - since > MAX_TRACK_SPAN:
        raise Invalid(f"at most {MAX_TRACK_SPAN.days} days per request; page through longer periods")
    return since, until


@dataclass(frozen=True)
class Track:
    person: Supervisee
    since: datetime
    until: datetime
    fixes: Sequence[Row]  # `fix`'s columns
    truncated: bool  # more than TRACK_FIXES_MAX fixes in the window: only the first are here

    def complete(self) -> "Track":
        """This track, or Invalid when it is cut short (an export must hold every fix it names)."""
        if self.truncated:
            raise Invalid(f"more than {TRACK_FIXES_MAX:,} fixes in this range; choose a shorter range")
        return self


def read(
    session, *, viewer: Officer, supervisee_id: int, since: datetime | None, until: datetime | None, via: str
) -> Track:
    """One supervisee's fixes in a window, if in the viewer's caseload (else 404); every read is audited
    with the person's district, saying how it was read (api, gpx, geojson, replay page, report)."""
    person = caseload_service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    since, until = window(since, until)
    fixes = positions.track(session, supervisee_id=supervisee_id, since=since, until=until, limit=TRACK_FIXES_MAX + 1)
    caseload_service.record(
        session,
        viewer,
        "supervisee.track_read",
        supervisee_id,
        {"from": since.isoformat(), "to": until.isoformat(), "fixes": len(fixes), "via": via},
        district_id=person.district_id,
    )
    return Track(person, since, until, fixes[:TRACK_FIXES_MAX], len(fixes) > TRACK_FIXES_MAX)


@dataclass(frozen=True)
class Columns:
    """A track's fixes as arrays, oldest first."""

    ts_s: np.ndarray  # seconds since the Unix epoch
    lat: np.ndarray
    lon: np.ndarray
    accuracy_m: np.ndarray  # NaN: not reported
    reported_speed_mps: np.ndarray  # NaN: not reported
    source: np.ndarray  # index into SOURCES

    @classmethod
    def of(cls, fixes: Sequence[Row]) -> "Columns":
        def floats(values) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        return cls(
            ts_s=np.array([f.ts.timestamp() for f in fixes], dtype=float),
            lat=floats(f.lat for f in fixes),
            lon=floats(f.lon for f in fixes),
            accuracy_m=floats(f.accuracy_m for f in fixes),
            reported_speed_mps=floats(f.speed_mps for f in fixes),
            source=np.array([SOURCE_CODE[f.source] for f in fixes], dtype=np.int8),
        )


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance between two points, or element-wise between arrays of them."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(np.subtract(lon2, lon1)) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def distances_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance from each fix to the next (one fewer than the fixes)."""
    return haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])


def speeds_mps(columns: Columns) -> np.ndarray:
    """Each fix's speed: as the device reported it, else the distance from the previous fix over the
    time between (0 for a first fix and for fixes in the same second)."""
    derived = np.zeros(len(columns.ts_s))
    if len(derived) > 1:
        seconds = np.diff(columns.ts_s)
        derived[1:] = np.divide(
            distances_m(columns.lat, columns.lon), seconds, out=np.zeros_like(seconds), where=seconds > 0
        )
    return np.where(np.isnan(columns.reported_speed_mps), derived, columns.reported_speed_mps)


def speed_classes(speed_mps: np.ndarray) -> np.ndarray:
    """Each speed's class, 0 (still) to len(SPEED_BOUNDS_MPS) (fast), as in SPEED_LABELS."""
    return np.searchsorted(np.asarray(SPEED_BOUNDS_MPS), speed_mps, side="right").astype(np.int8)


def gap_after(ts_s: np.ndarray, gap_min: float) -> np.ndarray:
    """Indexes of the fixes followed by more than ``gap_min`` minutes without a fix."""
    return np.flatnonzero(np.diff(ts_s) > gap_min * 60)


def segments(ts_s: np.ndarray, gap_min: float) -> list[tuple[int, int]]:
    """The track split at its gaps: (first, last) fix index of each stretch without one."""
    if not len(ts_s):
        return []
    breaks = gap_after(ts_s, gap_min)
    return list(zip([0, *(breaks + 1).tolist()], [*breaks.tolist(), len(ts_s) - 1], strict=True))


def thinned(lat: np.ndarray, lon: np.ndarray, kept: np.ndarray, limit: int) -> np.ndarray:
    """Indexes of the fixes to draw: at most about ``limit``, found by snapping to a grid that grows
    until few enough cells change from fix to fix. The first and last fix and those in ``kept`` (each
    side of a gap, say) are drawn whatever the grid."""
    n = len(lat)
    always = np.zeros(n, dtype=bool)
    if n:
        always[[0, n - 1]] = True
        always[kept] = True
    cell_m = 5.0
    while True:
        keep = always.copy()
        if n > 1:
            y = np.floor(lat * _METRES_PER_DEGREE / cell_m)
            x = np.floor(lon * _METRES_PER_DEGREE * np.cos(np.radians(lat)) / cell_m)
            keep[1:] |= (y[1:] != y[:-1]) | (x[1:] != x[:-1])
        if keep.sum() <= max(limit, always.sum()) or cell_m > 100_000:
            return np.flatnonzero(keep)
        cell_m *= 2


def step_classes(drawn: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class of each drawn step (from one drawn fix to the next): the highest class among the fixes
    it stands for, so a burst of speed thinned away still shows."""
    if len(drawn) < 2:
        return np.empty(0, dtype=classes.dtype)
    return np.maximum.reduceat(classes, drawn[:-1] + 1)[: len(drawn) - 1]


def runs(drawn: np.ndarray, steps: np.ndarray, gap_ends: np.ndarray) -> list[dict]:
    """The drawn line in pieces: {"i": fix indexes, "c": class} for consecutive steps of one class,
    each starting where the previous one ended so the line has no holes, and {"i": [a, b], "gap": true}
    across each gap."""
    pieces: list[dict] = []
    gaps = set(gap_ends.tolist())
    indexes = drawn.tolist()
    for k, cls in enumerate(steps.tolist()):
        start, end = indexes[k], indexes[k + 1]
        if start in gaps:
            pieces.append({"i": [start, end], "gap": True})
        elif pieces and not pieces[-1].get("gap") and pieces[-1]["c"] == cls:
            pieces[-1]["i"].append(end)
        else:
            pieces.append({"i": [start, end], "c": cls})
    return pieces


def drawn_fixes(columns: Columns, gaps: np.ndarray, limit: int) -> np.ndarray:
    """The fixes the line is drawn through: thinned, but keeping both sides of each gap and of each
    change of source (a camera sighting between phone fixes stays where it was)."""
    changes = np.flatnonzero(columns.source[1:] != columns.source[:-1])
    kept = np.concatenate([gaps, gaps + 1, changes, changes + 1]).astype(int)
    return thinned(columns.lat, columns.lon, kept, limit)


def replay(track: Track, *, gap_min: float, draw_limit: int = DRAW_POINTS_MAX) -> dict:
    """What the replay page and the printed report draw: every fix (for the slider) as columns, and the
    thinned line's pieces coloured by speed and by source, gaps apart."""
    columns = Columns.of(track.fixes)
    speed = speeds_mps(columns)
    by_speed = speed_classes(speed)
    gaps = gap_after(columns.ts_s, gap_min)
    drawn = drawn_fixes(columns, gaps, draw_limit)
    return {
        "from": track.since.isoformat(),
        "to": track.until.isoformat(),
        "gap_min": gap_min,
        "t": columns.ts_s.round().astype(int).tolist(),
        "lat": columns.lat.round(6).tolist(),
        "lon": columns.lon.round(6).tolist(),
        "acc": [None if a != a else a for a in columns.accuracy_m.round(1).tolist()],  # NaN → null
        "speed": speed.round(2).tolist(),
        "source": columns.source.tolist(),
        "gaps": len(gaps),
        "truncated": track.truncated,
        "pieces": {
            "speed": runs(drawn, step_classes(drawn, by_speed), gaps),
            "source": runs(drawn, step_classes(drawn, columns.source), gaps),
        },
        "speed_labels": SPEED_LABELS,
        "source_labels": [SOURCE_LABELS[s] for s in SOURCES],
    }


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def gpx(track: Track, *, gap_min: float, generated_at: datetime) -> bytes:
    """GPX 1.1: one track, one segment per stretch without a gap; each point with its time, its source
    (``src``) and, when reported, its altitude and accuracy. Written as text: a week of fixes takes an
    XML library seconds."""
    name = escape(f"{track.person.code} {track.person.full_name}")
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<gpx xmlns="{GPX_NS}" version="1.1" creator="ewall">',
        f"<metadata><name>{name}</name><desc>{_iso(track.since)} – {_iso(track.until)}</desc>",
        f"<time>{_iso(generated_at)}</time></metadata><trk><name>{name}</name>",
    ]
    fixes = track.fixes
    for first, last in segments(Columns.of(fixes).ts_s, gap_min):
        out.append("<trkseg>")
        for fix in fixes[first : last + 1]:
            ele = "" if fix.altitude_m is None else f"<ele>{fix.altitude_m}</ele>"
            desc = "" if fix.accuracy_m is None else f"<desc>±{fix.accuracy_m:g} m</desc>"
            out.append(
                f'<trkpt lat="{fix.lat}" lon="{fix.lon}">{ele}<time>{_iso(fix.ts)}</time>{desc}'
                f"<src>{fix.source}</src></trkpt>"
            )
        out.append("</trkseg>")
    out.append("</trk></gpx>\n")
    return "".join(out).encode()


def point_features(fixes: Sequence[Row]) -> list[dict]:
    """One GeoJSON Point per fix with its time, accuracy, speed, source and device."""
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
            "properties": {
                "ts": f.ts.isoformat(),
                "accuracy_m": f.accuracy_m,
                "speed_mps": f.speed_mps,
                "source": f.source,
                "device_id": f.device_id,
            },
        }
        for f in fixes
    ]


def geojson(track: Track, *, gap_min: float, generated_at: datetime) -> dict:
    """A FeatureCollection: every fix as a Point (as the track API gives them), then each stretch
    without a gap as a LineString with its first and last time."""
    fixes = track.fixes
    lines = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in fixes[first : last + 1]]},
            "properties": {
                "kind": "segment",
                "from": fixes[first].ts.isoformat(),
                "to": fixes[last].ts.isoformat(),
                "fixes": last - first + 1,
            },
        }
        for first, last in segments(Columns.of(fixes).ts_s, gap_min)
        if last > first
    ]
    return {
        "type": "FeatureCollection",
        "properties": {
            "supervisee_id": track.person.id,
            "code": track.person.code,
            "from": track.since.isoformat(),
            "to": track.until.isoformat(),
            "gap_min": gap_min,
            "generated_at": generated_at.isoformat(),
        },
        "features": point_features(fixes) + lines,
    }
