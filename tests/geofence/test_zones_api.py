"""Zones through the portal: GeoJSON in and out, invalid geometry refused with the reason."""

import pytest

from tests.factories import CENTRE, square


@pytest.fixture(scope="module")
def person(admin_api):
    return admin_api.supervisee(admin_api.district()["id"])


def test_geojson_round_trip(admin_api, person):
    created = admin_api.home_zone(person["id"])
    assert created["geometry"]["type"] == "MultiPolygon"
    assert created["geometry"]["coordinates"][0] == square(*CENTRE, 500)["coordinates"]
    listed = admin_api.call("GET", f"/zones?supervisee_id={person['id']}")
    assert [z["id"] for z in listed] == [created["id"]]
    admin_api.call("DELETE", f"/zones/{created['id']}", expect=204)
    assert admin_api.call("GET", f"/zones?supervisee_id={person['id']}") == []


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[123.0, 41.0], [123.1, 41.1], [123.1, 41.0], [123.0, 41.1], [123.0, 41.0]]],
}


@pytest.mark.parametrize(
    "geometry, reason",
    [
        (BOWTIE, "Self-intersection"),
        ({"type": "Point", "coordinates": [123.0, 41.0]}, "must be a Polygon or MultiPolygon"),
        (
            {"type": "Polygon", "coordinates": [[[41.0, 123.0], [41.1, 123.0], [41.1, 123.1], [41.0, 123.0]]]},
            "longitude, latitude",
        ),
        ({"type": "Polygon"}, "not GeoJSON"),
    ],
)
def test_invalid_geometry_is_refused_with_the_reason(admin_api, person, geometry, reason):
    error = admin_api.call(
        "POST",
        "/zones",
        expect=422,
        json={"name": "bad", "kind": "inclusion", "supervisee_id": person["id"], "geometry": geometry},
    )
    assert reason in error["detail"]


def test_a_zone_needs_exactly_one_owner(admin_api, person):
    error = admin_api.call(
        "POST", "/zones", expect=422, json={"name": "x", "kind": "exclusion", "geometry": square(*CENTRE, 50)}
    )
    assert "exactly one owner" in str(error["detail"])
