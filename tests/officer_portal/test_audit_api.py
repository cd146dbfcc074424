"""Reads of people's positions are audited, and auditors read the chain through the API: filtered,
paged, exported as CSV, within their districts; other roles get 403."""

import csv
import io

import pytest

from tests.factories import signed_in_as


@pytest.fixture(scope="module")
def city(admin_api, portal_url):
    """A top-level city with two counties; in each an officer with one supervisee, and auditors for
    county A and for the city."""
    root = admin_api.district()
    a, b = admin_api.district(root["id"]), admin_api.district(root["id"])
    staff = {
        "officer_a": admin_api.officer(a["id"]),
        "officer_b": admin_api.officer(b["id"]),
        "auditor_a": admin_api.officer(a["id"], role="auditor"),
        "auditor_city": admin_api.officer(root["id"], role="auditor"),
        "command_a": admin_api.officer(a["id"], role="command"),
    }
    api = {name: signed_in_as(portal_url, officer) for name, officer in staff.items()}
    person = admin_api.supervisee(a["id"], staff["officer_a"]["id"])
    # The reads under audit.
    api["officer_a"].call("GET", f"/supervisees/{person['id']}/track")
    api["officer_a"].call("GET", "/positions/live")
    api["officer_b"].call("GET", "/positions/live")
    return {"a": a, "b": b, "person": person, "staff": staff, "api": api}


def _entries(api, **query) -> list[dict]:
    return api.call("GET", "/audit", params=query)["entries"]


def test_reads_of_positions_are_audited_once_per_request(city):
    officer = city["staff"]["officer_a"]
    (track,) = _entries(city["api"]["auditor_a"], actor=f"officer:{officer['id']}", action="supervisee.track_read")
    assert track["entity"] == "supervisee" and track["entity_id"] == str(city["person"]["id"])
    assert track["district_id"] == city["a"]["id"] and track["detail"]["fixes"] == 0
    assert len(track["hash"]) == 64 and len(track["seal"]) == 64
    (live,) = _entries(city["api"]["auditor_a"], actor=f"officer:{officer['id']}", action="positions.live_read")
    assert live["detail"]["count"] == 0 and live["detail"]["supervisee_ids"] == []


def test_auditors_see_their_own_districts_and_the_city_sees_all(city):
    officer_b = f"officer:{city['staff']['officer_b']['id']}"
    assert _entries(city["api"]["auditor_a"], actor=officer_b) == []
    assert [e["action"] for e in _entries(city["api"]["auditor_city"], actor=officer_b)] == [
        "auth.sign_in",
        "positions.live_read",
    ]


def test_paging_filters_and_bad_input(city):
    auditor = city["api"]["auditor_city"]
    actor = f"officer:{city['staff']['officer_a']['id']}"
    first = auditor.call("GET", "/audit", params={"actor": actor, "limit": 1})
    rest = auditor.call("GET", "/audit", params={"actor": actor, "after_id": first["next_after_id"]})
    assert [e["action"] for e in first["entries"] + rest["entries"]] == [
        "auth.sign_in",
        "supervisee.track_read",
        "positions.live_read",
    ]
    assert rest["next_after_id"] is None
    later = first["entries"][0]["at"]
    assert _entries(auditor, actor=actor, **{"from": later})[0]["action"] == "auth.sign_in"
    assert _entries(auditor, actor=actor, to=later) == []
    assert "before" in auditor.call("GET", "/audit", 422, params={"from": later, "to": later})["detail"]
    auditor.call("GET", "/audit", 422, params={"limit": 5000})


def test_csv_export_is_streamed_and_audited(city):
    auditor = city["api"]["auditor_a"]
    actor = f"officer:{city['staff']['officer_a']['id']}"
    by_format = auditor.client.get("/api/v1/audit", params={"actor": actor, "format": "csv"})
    by_accept = auditor.client.get("/api/v1/audit", params={"actor": actor}, headers={"Accept": "text/csv"})
    for response in (by_format, by_accept):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["action"] for r in rows] == ["auth.sign_in", "supervisee.track_read", "positions.live_read"]
        assert rows[0]["at"].endswith("+08:00") and len(rows[0]["seal"]) == 64
    exports = _entries(auditor, actor=f"officer:{city['staff']['auditor_a']['id']}", action="audit.export")
    assert len(exports) == 2 and exports[0]["detail"]["query"] == {"actor": actor}


def test_only_auditors_and_admins_read_the_chain(city, admin_api):
    for name in ("officer_a", "command_a"):
        assert "requires role" in city["api"][name].call("GET", "/audit", 403)["detail"]
        city["api"][name].call("GET", "/audit/verify", 403)
    status = admin_api.call("GET", "/audit/verify")
    assert (status["intact"], status["problems"], status["app_role_can"]) == (True, [], [])
    # The verification itself is audited, after the walk: the chain is sealed up to an earlier entry.
    assert status["sealed_up_to_id"] > 0 and status["sealed_up_to_at"]
    checkpoint = status["last_checkpoint_id"]
    assert checkpoint is None or 0 < checkpoint <= status["sealed_up_to_id"]
