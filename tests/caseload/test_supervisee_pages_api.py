"""What the supervisees' pages need from the API: the caseload searched and filtered, a phone registered
with its set-up codes (secrets in that one answer), and a person's sightings and check-ins read back."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import eventually, signed_in_as, unique


@pytest.fixture(scope="module")
def county(admin_api):
    district = admin_api.district()
    officers = [admin_api.officer(district["id"]) for _ in range(2)]
    people = []
    for n, (name, category, risk, officer) in enumerate(
        (
            ("王小明", "probation", "high", officers[0]),
            ("王大明", "parole", "low", officers[0]),
            ("李_百分%", "control", "medium", officers[1]),
        )
    ):
        body = {
            "code": unique(f"Q{n}"),
            "full_name": name,
            "category": category,
            "risk_level": risk,
            "district_id": district["id"],
            "officer_id": officer["id"],
            "supervision_start": "2026-01-01",
        }
        people.append(admin_api.call("POST", "/supervisees", 201, json=body))
    admin_api.call("DELETE", f"/supervisees/{people[1]['id']}", 204)
    # Signed in once for the module: each sign-in is an argon2 round.
    base = admin_api.client.base_url
    supervisor = admin_api.officer(district["id"], "supervisor")
    apis = {"supervisor": signed_in_as(base, supervisor), **{n: signed_in_as(base, o) for n, o in enumerate(officers)}}
    return {"district": district, "officers": officers, "people": people, "api": apis}


def ids(answer) -> list[int]:
    return [p["id"] for p in answer]


def test_search_and_filters_narrow_the_caseload(admin_api, county):
    one, ended, other = county["people"]
    officers = county["officers"]
    as_supervisor = county["api"]["supervisor"]
    assert ids(as_supervisor.call("GET", "/supervisees?q=王")) == [one["id"], ended["id"]]
    assert ids(as_supervisor.call("GET", "/supervisees?q=王&active=true")) == [one["id"]]
    assert ids(as_supervisor.call("GET", f"/supervisees?q={one['code'][-6:].lower()}")) == [one["id"]]
    # LIKE's wildcards are searched as characters.
    assert ids(as_supervisor.call("GET", "/supervisees?q=_百分%25")) == [other["id"]]
    assert ids(as_supervisor.call("GET", "/supervisees?q=%25")) == [other["id"]]
    assert ids(as_supervisor.call("GET", f"/supervisees?officer_id={officers[1]['id']}")) == [other["id"]]
    assert ids(as_supervisor.call("GET", "/supervisees?category=parole")) == [ended["id"]]
    assert ids(as_supervisor.call("GET", "/supervisees?risk_level=high&category=probation")) == [one["id"]]
    # An officer's search stays inside their own caseload.
    assert ids(county["api"][1].call("GET", "/supervisees?q=王")) == []
    (error,) = admin_api.call("GET", "/supervisees?risk_level=extreme", 422)["detail"]
    assert error["field"] == "query.risk_level"


def test_a_registered_phone_comes_with_its_set_up_codes_once(admin_api, county, ingest_url):
    person = county["people"][0]
    officer = county["api"][0]
    device = officer.call("POST", f"/supervisees/{person['id']}/phones", 201, json={"kind": "phone"})
    setup = device["setup"]
    assert device["external_id"].startswith("ew-") and device["token"]
    assert setup["ingest_url"] == ingest_url  # EWALL_INGEST_PUBLIC_URL unset: the ingest app's own address
    assert parse_qs(urlsplit(setup["traccar_url"]).query)["id"] == [device["external_id"]]
    assert setup["owntracks_config"]["password"] == device["token"]
    assert setup["traccar_qr"].startswith("data:image/svg+xml") and setup["owntracks_qr"].startswith(
        "data:image/svg+xml"
    )
    # Never again: the listing shows the key's hint only, and no token.
    (listed,) = officer.call("GET", f"/supervisees/{person['id']}/devices")
    assert listed["key_hint"] == device["key_hint"] and "token" not in listed and listed["external_id"] is None
    # The other officer may not register a phone for someone outside their caseload.
    county["api"][1].call("POST", f"/supervisees/{person['id']}/phones", 404, json={"kind": "phone"})


def test_sightings_and_check_ins_are_read_back_newest_first(admin_api, county, ingest):
    person = county["people"][2]
    camera = admin_api.camera(county["district"]["id"])
    t = datetime.now(UTC) - timedelta(minutes=3)
    sent = [
        {"person_code": person["code"], "ts": t.isoformat(), "confidence": 0.95, "kind": "report"},
        {"person_code": person["code"], "ts": (t + timedelta(minutes=1)).isoformat(), "confidence": 0.6},
    ]
    answer = ingest.post(
        "/api/v1/sightings", json={"sightings": sent}, headers={"Authorization": f"Bearer {camera['token']}"}
    )
    assert answer.status_code == 202, answer.text
    officer = county["api"][1]
    path = f"/supervisees/{person['id']}/sightings"
    seen = eventually(lambda: (rows := officer.call("GET", path)) and len(rows) == 2 and rows, what="sightings")
    assert [s["kind"] for s in seen] == ["sighting", "report"]
    assert seen[1]["camera_name"] == "司法所报到机 office kiosk" and seen[1]["confidence"] == pytest.approx(0.95)
    assert [s["kind"] for s in officer.call("GET", f"{path}?limit=1&offset=1")] == ["report"]
    county["api"][0].call("GET", path, 404)
    audited = admin_api.call("GET", f"/audit?action=supervisee.sightings_read&entity_id={person['id']}")
    assert audited, "reading someone's whereabouts is audited"
