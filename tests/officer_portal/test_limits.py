"""The portal's limits: every list pages with a capped limit, and bodies are capped."""

import pytest

from tests.factories import CENTRE, square

# Every list route and its largest page (the live map pages through a whole province at once).
LISTS = {
    "/districts": 5000,
    "/officers": 5000,
    "/supervisees": 5000,
    "/supervisees/{person}/devices": 5000,
    "/supervisees/{person}/alert-suspensions": 5000,
    "/gateways": 5000,
    "/cameras": 5000,
    "/zones": 5000,
    "/positions/live": 10_000,
    "/alerts": 2000,
    "/alerts/{alert}/events": 5000,
    "/alert-policies": 5000,
    "/reports/response-times": 5000,
    "/devices/unknown": 5000,
    "/admin/dlq": 5000,
}


@pytest.fixture(scope="module")
def person(admin_api):
    district = admin_api.district()
    people = [admin_api.supervisee(district["id"]) for _ in range(3)]
    for p in people:
        admin_api.device(p["id"])
        admin_api.home_zone(p["id"])
    return people[0]


@pytest.mark.parametrize(("path", "maximum"), LISTS.items())
def test_every_list_pages_and_refuses_a_limit_over_its_maximum(admin_api, person, path, maximum):
    pages = "{alert}" not in path  # no alert here to page through: only its limit is checked
    path = path.format(person=person["id"], alert=2**31 - 1)
    if pages:
        first, second = (admin_api.call("GET", f"{path}?limit=1&offset={n}") for n in (0, 1))
        assert len(first) <= 1 and len(second) <= 1
        if second:
            assert first != second
    (error,) = admin_api.call("GET", f"{path}?limit={maximum + 1}", 422)["detail"]
    assert error["field"] == "query.limit" and str(maximum) in error["reason"]
    admin_api.call("GET", f"{path}?limit=1&offset=-1", 422)


def test_paging_walks_a_list_without_gaps_or_repeats(admin_api, person):
    everyone = admin_api.call("GET", "/zones?limit=5000")
    paged = [z for n in range(0, len(everyone), 2) for z in admin_api.call("GET", f"/zones?limit=2&offset={n}")]
    assert [z["id"] for z in paged] == [z["id"] for z in everyone]


def test_a_body_over_the_cap_is_413_naming_it(admin_api, settings, person):
    cap = settings.portal_max_body_bytes
    ring = square(*CENTRE, 500)["coordinates"][0]
    huge = {"type": "Polygon", "coordinates": [ring[:-1] * (cap // 40) + ring[-1:]]}
    body = {"name": "huge", "kind": "inclusion", "supervisee_id": person["id"], "geometry": huge}
    error = admin_api.call("POST", "/zones", 413, json=body)
    assert str(cap) in error["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # Before their bounds these were 500s: arithmetic on year 1 or 9999 overflows.
        ("GET", "/reports/response-times?until=0001-01-01T00:00:00%2B01:00", None),
        ("GET", "/alerts?since=0001-01-01T00:00:00%2B01:00", None),
        ("GET", "/supervisees/{person}/track?to=0001-01-02T00:00:00Z", None),
        ("POST", "/supervisees/{person}/alert-suspensions", {"until": "9999-12-31T23:59:59-14:00", "reason": "x"}),
        ("PATCH", "/zones/{zone}", {"valid_to": "9999-12-31T23:59:59-14:00"}),
    ],
)
def test_times_far_in_the_past_or_future_are_422(admin_api, person, method, path, body):
    zone = admin_api.call("GET", f"/zones?supervisee_id={person['id']}")[0]
    (error,) = admin_api.call(method, path.format(person=person["id"], zone=zone["id"]), 422, json=body)["detail"]
    assert "between 2000-01-01 and 2100-01-01" in error["reason"]


def test_ids_beyond_the_database_integers_are_422_not_500(admin_api):
    for path in ("/districts/2147483648", "/supervisees/9223372036854775808", "/alerts/9223372036854775808/events"):
        assert "out of range" in admin_api.call("GET", path, 422)["detail"]
