"""Every ingest source through the real ingest app, broker, persist worker and PostGIS:
OsmAnd/Traccar Client, OwnTracks, gateways, cameras; datums; unknown devices; retention."""

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import CENTRE, eventually, now_iso, post_fixes, signed_in_as

LAT, LON = CENTRE


@pytest.fixture(scope="module")
def district(admin_api):
    return admin_api.district()


@pytest.fixture
def phone(admin_api, district):
    """A supervisee with an ewall-generated device id (the OsmAnd key) and token."""
    person = admin_api.supervisee(district["id"])
    return admin_api.device(person["id"]) | {"supervisee_id": person["id"]}


def stored_fixes(db, supervisee_id: int, expected: int, timeout_s: float = 60) -> list:
    def rows():
        found = db.execute(
            text(
                "SELECT ts, lat, lon, accuracy_m, speed_mps, heading_deg, altitude_m, battery_pct,"
                " source, device_id FROM fix WHERE supervisee_id = :s ORDER BY ts"
            ),
            {"s": supervisee_id},
        ).all()
        return found if len(found) >= expected else None

    return eventually(rows, timeout_s=timeout_s, what=f"{expected} fixes of supervisee {supervisee_id}")


def test_osmand_query_string_as_traccar_client_sends_it(ingest, phone, db):
    ts = int(time.time()) - 60
    # Traccar Client's request: speed in knots, battery in percent.
    response = ingest.get(
        "/",
        params={
            "id": phone["external_id"],
            "timestamp": ts,
            "lat": LAT,
            "lon": LON,
            "speed": "10.0",
            "bearing": "90.0",
            "altitude": "120.5",
            "accuracy": "8.0",
            "batt": "87.0",
        },
    )
    assert response.status_code == 200, response.text
    (row,) = stored_fixes(db, phone["supervisee_id"], 1)
    assert row.ts == datetime.fromtimestamp(ts, UTC)
    assert (row.lat, row.lon, row.accuracy_m, row.heading_deg, row.altitude_m) == (LAT, LON, 8.0, 90.0, 120.5)
    assert row.speed_mps == pytest.approx(5.14444, abs=1e-3)
    assert row.battery_pct == 87 and row.source == "gps"


def test_osmand_form_post_with_location_and_shanghai_local_time(ingest, phone, db):
    local = (datetime.now(UTC) + timedelta(hours=8) - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    response = ingest.post(
        "/osmand",
        data={"deviceid": phone["external_id"], "timestamp": local, "location": f"{LAT},{LON}", "hdop": "1.2"},
    )
    assert response.status_code == 200, response.text
    (row,) = stored_fixes(db, phone["supervisee_id"], 1)
    assert abs((datetime.now(UTC) - timedelta(minutes=5) - row.ts).total_seconds()) < 2


def test_osmand_json_body_from_the_new_traccar_client(ingest, phone, db):
    body = {
        "device_id": phone["external_id"],
        "location": {
            "timestamp": now_iso(),
            "coords": {
                "latitude": LAT,
                "longitude": LON,
                "accuracy": 5.5,
                "speed": 1.5,
                "heading": 270,
                "altitude": 80,
            },
            "is_moving": True,
            "odometer": 0,
            "battery": {"level": 0.42, "is_charging": False},
        },
    }
    response = ingest.post("/", json=body)
    assert response.status_code == 200, response.text
    (row,) = stored_fixes(db, phone["supervisee_id"], 1)
    assert (row.speed_mps, row.battery_pct, row.accuracy_m) == (1.5, 42, 5.5)


def test_osmand_with_a_token_for_a_device_registered_by_imei(ingest, admin_api, district, db):
    person = admin_api.supervisee(district["id"])
    imei = f"86{time.time_ns() % 10**13:013d}"
    device = admin_api.call(
        "POST", f"/supervisees/{person['id']}/devices", 201, json={"kind": "tracker", "external_id": imei}
    )
    # An IMEI is guessable, so the id alone is not enough...
    assert ingest.get("/", params={"id": imei, "lat": LAT, "lon": LON}).status_code == 401
    # ...the token is.
    response = ingest.get("/", params={"id": imei, "token": device["token"], "lat": LAT, "lon": LON})
    assert response.status_code == 200, response.text
    stored_fixes(db, person["id"], 1)


def test_osmand_cell_only_report_is_kept(ingest, phone, db):
    response = ingest.get(
        "/", params={"id": phone["external_id"], "cell": "460,0,4566,12345,-70", "wifi": "00-11-22-33-44-55,-55"}
    )
    assert response.status_code == 200, response.text
    radio = eventually(
        lambda: db.execute(
            text("SELECT radio FROM radio_report WHERE supervisee_id = :s"), {"s": phone["supervisee_id"]}
        ).scalar(),
        what="the radio report",
    )
    assert radio["cell"][0]["cid"] == 12345


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"lat": "41.3", "lon": "123.7"}, "missing device identifier"),
        ({"id": "{key}", "lat": "north", "lon": "123.7"}, "lat"),
        ({"id": "{key}", "lat": "95", "lon": "123.7"}, "lat"),
        ({"id": "{key}", "lat": "41.3", "lon": "123.7", "timestamp": "yesterday"}, "timestamp"),
        ({"id": "{key}"}, "no position"),
    ],
)
def test_osmand_bad_requests_are_400_with_the_reason(ingest, phone, params, reason):
    params = {k: v.replace("{key}", phone["external_id"]) for k, v in params.items()}
    response = ingest.get("/", params=params)
    assert response.status_code == 400
    assert reason in response.json()["detail"]


def test_unknown_devices_are_refused_and_listed_for_root_staff_only_without_secrets(
    ingest, admin_api, district, phone, portal_url, db
):
    key = f"stranger-{time.time_ns()}"
    response = ingest.get("/", params={"id": key, "lat": LAT, "lon": LON})
    assert response.status_code == 401 and "register" in response.json()["detail"]
    # A deactivated phone still reporting its generated key: the key is a password, kept only as a hint.
    admin_api.call("DELETE", f"/supervisees/{phone['supervisee_id']}/devices/{phone['id']}", 204)
    secret = phone["external_id"]
    assert ingest.get("/", params={"id": secret, "lat": LAT, "lon": LON}).status_code == 401

    def listed(api):
        return {d["device_key"]: d for d in api.call("GET", "/devices/unknown")}

    def both():
        entries = listed(admin_api)
        return entries if {key, phone["key_hint"]} <= entries.keys() else None

    entries = eventually(both, timeout_s=30, what="the unknown devices in the admin list")
    assert entries[key]["protocol"] == "osmand" and entries[key]["attempts"] == 1
    assert secret not in str(entries)
    stored = db.execute(text("SELECT device_key FROM unknown_device")).scalars().all()
    assert phone["key_hint"] in stored and secret not in stored
    # They came through no gateway and named nobody: staff below the root see none of them.
    county = admin_api.district(parent_id=district["id"])
    command = signed_in_as(portal_url, admin_api.officer(county["id"], role="command"))
    assert listed(command) == {}
    assert key in listed(signed_in_as(portal_url, admin_api.officer(district["id"], role="command")))


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_owntracks_location_with_basic_auth(ingest, phone, db):
    tst = int(time.time()) - 30
    payload = {
        "_type": "location",
        "lat": LAT,
        "lon": LON,
        "tst": tst,
        "acc": 15,
        "alt": 50,
        "vel": 36,
        "cog": 180,
        "batt": 66,
        "conn": "w",
        "tid": "ZS",
    }
    response = ingest.post("/owntracks", json=payload, headers=_basic(phone["external_id"], phone["token"]))
    assert response.status_code == 200 and response.json() == []
    (row,) = stored_fixes(db, phone["supervisee_id"], 1)
    assert row.speed_mps == pytest.approx(10.0) and row.battery_pct == 66 and row.heading_deg == 180


def test_owntracks_other_messages_and_empty_bodies_are_accepted_and_ignored(ingest, phone):
    auth = _basic(phone["external_id"], phone["token"])
    transition = {
        "_type": "transition",
        "event": "leave",
        "lat": LAT,
        "lon": LON,
        "tst": int(time.time()),
        "wtst": 1,
        "acc": 10,
        "desc": "home",
        "t": "c",
    }
    for body in (transition, {"_type": "lwt", "tst": 1}, None):
        response = ingest.post("/owntracks", headers=auth, **({"json": body} if body else {"content": b""}))
        assert response.status_code == 200 and response.json() == []


def test_owntracks_with_x_limit_headers_and_a_generated_id(ingest, phone, db):
    payload = {"_type": "location", "lat": LAT, "lon": LON, "tst": int(time.time()) - 5}
    response = ingest.post(
        "/owntracks", json=payload, headers={"X-Limit-U": phone["external_id"], "X-Limit-D": "phone"}
    )
    assert response.status_code == 200
    stored_fixes(db, phone["supervisee_id"], 1)


def test_owntracks_wrong_password_or_bad_body(ingest, phone):
    payload = {"_type": "location", "lat": LAT, "lon": LON, "tst": int(time.time())}
    wrong = ingest.post("/owntracks", json=payload, headers=_basic(phone["external_id"], "not-the-token"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    bad = ingest.post("/owntracks", json={"lat": 1}, headers=_basic(phone["external_id"], phone["token"]))
    assert bad.status_code == 400


def test_a_gcj02_phone_is_stored_in_wgs84(ingest, admin_api, district, db):
    person = admin_api.supervisee(district["id"])
    device = admin_api.call("POST", f"/supervisees/{person['id']}/devices", 201, json={"datum": "gcj02"})
    # Tiananmen in GCJ-02 (as AMap reports it) and in WGS-84, from coordtransform's published example.
    gcj = (39.91640428150164, 116.41024449916938)
    wgs = (39.915, 116.404)
    assert post_fixes(ingest, device["token"], [{"ts": now_iso(), "lat": gcj[0], "lon": gcj[1]}]).status_code == 202
    (row,) = stored_fixes(db, person["id"], 1)
    assert (row.lat, row.lon) == pytest.approx(wgs, abs=1e-7)


def test_a_gateway_posts_for_the_devices_of_its_district_only(ingest, admin_api, district, db):
    inside = admin_api.supervisee(district["id"])
    inside_device = admin_api.device(inside["id"])
    other_district = admin_api.district()
    outside_device = admin_api.device(admin_api.supervisee(other_district["id"])["id"])
    gateway = admin_api.call("POST", "/gateways", 201, json={"name": "vendor platform", "district_id": district["id"]})
    fixes = [
        {"device_id": inside_device["external_id"], "ts": now_iso(), "lat": LAT, "lon": LON},
        {"device_id": outside_device["external_id"], "ts": now_iso(), "lat": LAT, "lon": LON},
        {"ts": now_iso(), "lat": LAT, "lon": LON},
    ]
    response = post_fixes(ingest, gateway["token"], fixes)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert {r["index"] for r in body["rejected"]} == {1, 2}
    assert "not a registered device of this gateway" in body["rejected"][0]["error"]
    assert "required" in body["rejected"][1]["error"]
    stored_fixes(db, inside["id"], 1)


def test_camera_sightings_become_fixes_at_the_camera(ingest, admin_api, district, db):
    person = admin_api.supervisee(district["id"])
    camera = admin_api.call(
        "POST",
        "/cameras",
        201,
        json={
            "code": f"CAM{time.time_ns() % 10**8}",
            "name": "平山路口",
            "district_id": district["id"],
            "lat": LAT + 0.01,
            "lon": LON,
            "radius_m": 25,
        },
    )
    t = datetime.now(UTC) - timedelta(minutes=2)
    sightings = [
        {"person_code": person["code"], "ts": t.isoformat(), "confidence": 0.93},
        {"person_code": person["code"], "ts": (t + timedelta(seconds=30)).isoformat(), "confidence": 0.5},
        {
            "person_code": person["code"],
            "ts": (t + timedelta(seconds=60)).isoformat(),
            "confidence": 0.99,
            "kind": "report",
        },
        {"person_code": "NOBODY", "ts": t.isoformat(), "confidence": 0.9},
        {"person_code": person["code"], "ts": t.isoformat(), "confidence": 1.5},
    ]
    response = ingest.post(
        "/api/v1/sightings",
        json={"sightings": sightings},
        headers={"Authorization": f"Bearer {camera['token']}"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 3
    assert [r["index"] for r in response.json()["rejected"]] == [3, 4]
    rows = stored_fixes(db, person["id"], 2)
    assert [r.source for r in rows] == ["cctv", "checkin"]  # the 0.5 match is not a fix
    assert rows[0].lat == pytest.approx(LAT + 0.01) and rows[0].accuracy_m == 25 and rows[0].device_id < 0
    kinds = eventually(
        lambda: (
            db.execute(text("SELECT kind FROM sighting WHERE supervisee_id = :s ORDER BY ts"), {"s": person["id"]})
            .scalars()
            .all()
        ),
        what="sightings",
    )
    assert len(kinds) == 3 and "report" in kinds


def test_retention_drops_whole_old_partitions(services, db):
    from core.db import session_scope
    from tracker_ingest import positions

    old_day = datetime.now(UTC).date() - timedelta(days=services.fix_retention_days + 3)
    with session_scope() as session:
        session.execute(text("SELECT fix_ensure_partitions(:d, :d)"), {"d": old_day})
    name = f"fix_p{old_day:%Y%m%d}"
    assert db.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None
    db.rollback()
    with session_scope() as session:
        assert positions.drop_expired_partitions(session, retention_days=services.fix_retention_days) >= 1
    assert db.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None
    today = f"fix_p{datetime.now(UTC).date():%Y%m%d}"
    assert db.execute(text("SELECT to_regclass(:n)"), {"n": today}).scalar() is not None
