"""Zones through the portal: GeoJSON in and out, invalid geometry refused with the reason."""

import pytest

from tests.factories import CENTRE, STAFF_PASSWORD, Api, square


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


CURFEW = {"weekly": [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "22:00", "to": "06:00"}]}


def test_a_curfew_zone_keeps_its_schedule_and_priority(admin_api, person):
    curfew = admin_api.call(
        "POST",
        "/zones",
        201,
        json={
            "name": "宵禁 curfew",
            "kind": "inclusion",
            "supervisee_id": person["id"],
            "geometry": square(*CENTRE, 150),
            "schedule": CURFEW | {"exceptions": [{"date": "2026-12-31", "windows": []}]},
            "priority": 10,
        },
    )
    assert curfew["schedule"]["weekly"] == CURFEW["weekly"] and curfew["priority"] == 10
    changed = admin_api.call("PATCH", f"/zones/{curfew['id']}", json={"schedule": None})
    assert changed["schedule"] is None


def test_a_bad_schedule_is_refused_with_the_reason(admin_api, person):
    error = admin_api.call(
        "POST",
        "/zones",
        422,
        json={
            "name": "宵禁 curfew",
            "kind": "inclusion",
            "supervisee_id": person["id"],
            "geometry": square(*CENTRE, 150),
            "schedule": {"weekly": [{"days": [0], "from": "22:00", "to": "6 am"}]},
        },
    )
    assert "weekly[0]: time '6 am' is not HH:MM" in str(error["detail"])


def test_travel_leave_ends_with_the_return(admin_api, person):
    leave = {
        "name": "请假外出 leave",
        "kind": "inclusion",
        "supervisee_id": person["id"],
        "geometry": square(*CENTRE, 5000),
        "travel_leave": True,
    }
    error = admin_api.call("POST", "/zones", 422, json=leave)
    assert "valid_from and valid_to" in str(error["detail"])
    window = {"valid_from": "2026-11-20T00:00:00Z", "valid_to": "2027-11-22T00:00:00Z"}
    created = admin_api.call("POST", "/zones", 201, json=leave | window)
    assert created["travel_leave"] and created["returned_at"] is None
    returned = admin_api.call("POST", f"/zones/{created['id']}/return")
    assert returned["returned_at"] is not None
    again = admin_api.call("POST", f"/zones/{created['id']}/return", 409)
    assert "already recorded" in again["detail"]
    wall = admin_api.home_zone(person["id"])
    not_leave = admin_api.call("POST", f"/zones/{wall['id']}/return", 422)
    assert "not a travel leave" in not_leave["detail"]


def test_district_wide_zones_are_for_supervisors_not_officers(admin_api, portal_url):
    district = admin_api.district()
    school = {
        "name": "学校 school",
        "kind": "exclusion",
        "district_id": district["id"],
        "geometry": square(*CENTRE, 80),
    }

    def signed_in(role: str) -> Api:
        return Api.sign_in(portal_url, admin_api.officer(district["id"], role=role)["username"], STAFF_PASSWORD)

    assert "supervisors" in signed_in("officer").call("POST", "/zones", 403, json=school)["detail"]
    supervisor = signed_in("supervisor")
    created = supervisor.call("POST", "/zones", 201, json=school)
    assert created["district_id"] == district["id"] and created["supervisee_id"] is None
