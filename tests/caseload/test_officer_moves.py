"""An officer moves to another district of the caller's (PATCH district_id); out of scope or empty is refused."""

import pytest

from tests.factories import signed_in_as


@pytest.fixture(scope="module")
def county(admin_api, portal_url):
    root = admin_api.district()
    a, b = admin_api.district(root["id"]), admin_api.district(root["id"])
    command = admin_api.officer(a["id"], role="command")
    return {"a": a, "b": b, "town": admin_api.district(a["id"]), "api": signed_in_as(portal_url, command)}


def test_command_moves_an_officer_within_its_districts_only(admin_api, county):
    officer = admin_api.officer(county["a"]["id"])
    api = county["api"]
    moved = api.call("PATCH", f"/officers/{officer['id']}", json={"district_id": county["town"]["id"]})
    assert moved["district_id"] == county["town"]["id"]
    api.call("PATCH", f"/officers/{officer['id']}", 404, json={"district_id": county["b"]["id"]})
    assert (
        "belongs to a district"
        in api.call("PATCH", f"/officers/{officer['id']}", 422, json={"district_id": None})["detail"]
    )
    entries = admin_api.call("GET", "/audit", params={"action": "officer.update", "entity_id": str(officer["id"])})
    assert entries["entries"][-1]["detail"]["district_id"] == county["town"]["id"]
