"""Sign-in, roles and caseload scoping through the real portal."""

import httpx
import pytest

from tests.factories import STAFF_PASSWORD, signed_in_as


@pytest.fixture(scope="module")
def station(admin_api, portal_url):
    """A district with a supervisor, two officers with one supervisee each, and an auditor."""
    district = admin_api.district()
    chief = admin_api.officer(district["id"], role="supervisor")
    alice = admin_api.officer(district["id"], supervisor_id=chief["id"])
    bob = admin_api.officer(district["id"], supervisor_id=chief["id"])
    auditor = admin_api.officer(district["id"], role="auditor")
    return {
        "district": district,
        "alice": alice,
        "bob": bob,
        "chief": chief,
        "auditor": auditor,
        "alice_person": admin_api.supervisee(district["id"], alice["id"]),
        "bob_person": admin_api.supervisee(district["id"], bob["id"]),
        "api": {
            name: signed_in_as(portal_url, o)
            for name, o in (("alice", alice), ("bob", bob), ("chief", chief), ("auditor", auditor))
        },
    }


def test_sign_in_with_wrong_password_is_refused(portal_url, station):
    response = httpx.post(
        f"{portal_url}/api/v1/auth/token",
        data={"username": station["alice"]["username"], "password": STAFF_PASSWORD + "x"},
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic YWRtaW46YWRtaW4="])
def test_missing_or_bad_token_is_401(portal_url, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{portal_url}/api/v1/supervisees", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_an_officer_sees_only_their_own_caseload(station):
    alice = station["api"]["alice"]
    codes = {p["code"] for p in alice.call("GET", "/supervisees")}
    assert codes == {station["alice_person"]["code"]}
    alice.call("GET", f"/supervisees/{station['bob_person']['id']}", expect=404)
    alice.call("GET", f"/supervisees/{station['bob_person']['id']}/devices", expect=404)


def test_a_supervisor_and_an_auditor_see_the_whole_district(station):
    for name in ("chief", "auditor"):
        ids = {p["id"] for p in station["api"][name].call("GET", "/supervisees")}
        assert {station["alice_person"]["id"], station["bob_person"]["id"]} <= ids


def test_an_auditor_is_read_only(station):
    auditor = station["api"]["auditor"]
    body = {
        "code": "AUD1",
        "full_name": "x",
        "category": "parole",
        "district_id": station["district"]["id"],
        "supervision_start": "2026-01-01",
    }
    assert "read-only" in auditor.call("POST", "/supervisees", expect=403, json=body)["detail"]
    auditor.call("POST", f"/supervisees/{station['alice_person']['id']}/devices", expect=403, json={})


def test_an_officer_registers_people_only_into_their_own_caseload(station):
    alice = station["api"]["alice"]
    body = {
        "code": "OWN1x",
        "full_name": "李四",
        "category": "parole",
        "district_id": station["district"]["id"],
        "supervision_start": "2026-02-01",
    }
    created = alice.call("POST", "/supervisees", expect=201, json=body)
    assert created["officer_id"] == station["alice"]["id"]
    other = {**body, "code": "OWN2x", "officer_id": station["bob"]["id"]}
    alice.call("POST", "/supervisees", expect=403, json=other)


def test_only_admin_manages_districts_and_grants_admin(station, admin_api, portal_url):
    station["api"]["chief"].call(
        "POST", "/districts", expect=403, json={"code": "X1", "name": "x", "level": "township"}
    )
    api = signed_in_as(portal_url, admin_api.officer(station["district"]["id"], role="command"))
    body = {
        "username": "wannabe-admin",
        "full_name": "x",
        "password": STAFF_PASSWORD,
        "role": "admin",
        "district_id": station["district"]["id"],
    }
    api.call("POST", "/officers", expect=403, json=body)


def test_device_token_and_generated_key_are_shown_once_and_stored_hashed(admin_api, station, db):
    import hashlib

    from sqlalchemy import text

    device = admin_api.device(station["alice_person"]["id"])
    key = device["external_id"]  # generated: the OsmAnd/Traccar key, a password
    assert len(device["token"]) >= 40 and key.startswith("ew-") and device["key_hint"] == f"ew-…{key[-4:]}"
    (listed,) = admin_api.call("GET", f"/supervisees/{station['alice_person']['id']}/devices")
    assert "token" not in listed and key not in str(listed) and listed["key_hint"] == device["key_hint"]
    row = db.execute(text("SELECT to_jsonb(device) AS row, token_hash, key_hash FROM device WHERE id = :id"), device)
    row = row.one()
    assert device["token"] not in str(row.row) and len(row.token_hash) == 64
    assert key not in str(row.row) and row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    audit = text("SELECT detail::text FROM audit_log WHERE entity = 'device' AND entity_id = :id")
    audited = db.execute(audit, {"id": str(device["id"])}).scalars().all()
    assert audited
    assert all(key not in detail and device["token"] not in detail for detail in audited)


def test_bad_input_names_the_field(admin_api, station):
    error = admin_api.call(
        "POST",
        "/supervisees",
        expect=422,
        json={
            "code": "bad code!",
            "full_name": "",
            "category": "exile",
            "district_id": station["district"]["id"],
            "supervision_start": "2026-13-01",
        },
    )
    fields = {e["field"] for e in error["detail"]}
    assert {"code", "full_name", "category", "supervision_start"} <= fields
    assert all(e["reason"] for e in error["detail"])


def test_duplicate_codes_conflict(admin_api, station):
    body = {
        "code": station["alice_person"]["code"],
        "full_name": "x",
        "category": "parole",
        "district_id": station["district"]["id"],
        "supervision_start": "2026-01-01",
    }
    assert "already exists" in admin_api.call("POST", "/supervisees", expect=409, json=body)["detail"]
