"""The track's GPX and GeoJSON files: every fix of the range, split at gaps, named for download,
refused (404) for someone outside the caller's caseload, and audited like any read of a track."""

from datetime import UTC, datetime, timedelta

import gpxpy
import orjson
import pytest

from tests.factories import CENTRE, eventually, offset, post_fixes, signed_in_as

# Two stretches of fixes a minute apart with 20 minutes between them, in the last two hours.
FIRST, SECOND = 12, 8


@pytest.fixture(scope="module")
def walk(admin_api, portal_url, ingest_url):
    import httpx

    district = admin_api.district()
    officer = admin_api.officer(district["id"])
    other = admin_api.officer(admin_api.district()["id"])
    person = admin_api.supervisee(district["id"], officer["id"])
    device = admin_api.device(person["id"])
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    times = [start + timedelta(minutes=m) for m in range(FIRST)]
    times += [times[-1] + timedelta(minutes=21 + m) for m in range(SECOND)]
    fixes = [
        {"ts": ts.isoformat(), "lat": lat, "lon": lon, "accuracy_m": 8 + k, "speed_mps": 1.2}
        for k, ts in enumerate(times)
        for lat, lon in [offset(*CENTRE, north_m=40 * k)]
    ]
    with httpx.Client(base_url=ingest_url, timeout=20) as ingest:
        assert post_fixes(ingest, device["token"], fixes).status_code == 202
    api = signed_in_as(portal_url, officer)
    window = {"from": (start - timedelta(minutes=5)).isoformat(), "to": datetime.now(UTC).isoformat()}
    eventually(
        lambda: len(api.call("GET", f"/supervisees/{person['id']}/track", params=window)["features"]) == len(fixes),
        what="the fixes stored",
    )
    return {
        "person": person,
        "officer": officer,
        "api": api,
        "other": signed_in_as(portal_url, other),
        "window": window,
    }


def _reads(admin_api, officer: dict, person: dict) -> list[dict]:
    query = {"actor": f"officer:{officer['id']}", "action": "supervisee.track_read", "entity_id": str(person["id"])}
    return admin_api.call("GET", "/audit", params=query)["entries"]


def test_gpx_holds_every_fix_in_one_segment_per_stretch(walk, admin_api):
    person = walk["person"]
    response = walk["api"].client.get(f"/api/v1/supervisees/{person['id']}/track.gpx", params=walk["window"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/gpx+xml")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"track-{person['code']}-" in disposition and ".gpx" in disposition
    parsed = gpxpy.parse(response.text)
    assert parsed.version == "1.1"
    (track,) = parsed.tracks
    assert [len(s.points) for s in track.segments] == [FIRST, SECOND]
    first = track.segments[0].points[0]
    assert abs(first.latitude - CENTRE[0]) < 1e-9 and first.time is not None and first.source == "gps"
    assert first.description == "±8 m"
    assert any(r["detail"]["via"] == "gpx" for r in _reads(admin_api, walk["officer"], person))


def test_geojson_holds_every_fix_and_each_stretch_as_a_line(walk, admin_api):
    person = walk["person"]
    response = walk["api"].client.get(
        f"/api/v1/supervisees/{person['id']}/track.geojson", params={**walk["window"], "gap_min": 30}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    assert ".geojson" in response.headers["content-disposition"]
    document = orjson.loads(response.content)
    points = [f for f in document["features"] if f["geometry"]["type"] == "Point"]
    lines = [f for f in document["features"] if f["geometry"]["type"] == "LineString"]
    assert len(points) == FIRST + SECOND
    assert [f["properties"]["fixes"] for f in lines] == [FIRST + SECOND]  # 20 minutes is no gap at 30
    assert document["properties"]["code"] == person["code"]
    (read,) = [r for r in _reads(admin_api, walk["officer"], person) if r["detail"]["via"] == "geojson"]
    assert read["detail"]["fixes"] == FIRST + SECOND


def test_exports_of_someone_elses_person_are_not_found(walk):
    for suffix in ("gpx", "geojson"):
        walk["other"].call("GET", f"/supervisees/{walk['person']['id']}/track.{suffix}", expect=404)


def test_an_impossible_range_is_refused_with_the_reason(walk):
    person = walk["person"]
    reversed_range = {"from": walk["window"]["to"], "to": walk["window"]["from"]}
    response = walk["api"].client.get(f"/api/v1/supervisees/{person['id']}/track.gpx", params=reversed_range)
    assert response.status_code == 422 and "'from' must be before 'to'" in response.text
