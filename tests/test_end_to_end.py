"""The thin path, real at every hop: device → ingest → broker → persist/geofence/alerts workers →
PostGIS → portal API."""

from datetime import UTC, datetime, timedelta

from tests.factories import CENTRE, eventually, offset, post_fixes, post_outside


def test_fix_outside_the_wall_raises_an_alert_and_shows_on_the_live_map(admin_api, ingest):
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    device = admin_api.device(person["id"])
    zone = admin_api.home_zone(person["id"], half_side_m=500)
    lat, lon = offset(*CENTRE, north_m=3000)  # 2.5 km beyond the wall

    def alerts():
        # A phone reports again and again; the geofence worker picks up new zones within a second.
        post_outside(ingest, device["token"], lat, lon)
        return admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")

    found = eventually(alerts, every_s=1.0, what="an alert for the fixes outside the zone")
    assert len(found) == 1, "repeated evidence must update one episode, not open more"
    alert = found[0]
    assert alert["rule"] == "inclusion_exit"
    assert alert["level"] == "red", "2.5 km beyond the wall is beyond the red distance"
    assert alert["status"] == "open"
    assert alert["zone_id"] == zone["id"]
    assert alert["evidence"]["first"]["distance_m"] > 2000

    live = admin_api.call("GET", "/positions/live")
    mine = [p for p in live if p["supervisee_id"] == person["id"]]
    assert mine and abs(mine[0]["lat"] - lat) < 1e-9 and abs(mine[0]["lon"] - lon) < 1e-9

    # Back home for half a minute: the episode ends (the alert stays for the officer to handle). The
    # phone's clock runs a little ahead, so these come after every fix sent above.
    now = datetime.now(UTC)
    home = [{"ts": (now + timedelta(seconds=s)).isoformat(), "lat": CENTRE[0], "lon": CENTRE[1]} for s in (5, 35)]
    response = post_fixes(ingest, device["token"], [fix | {"accuracy_m": 10} for fix in home])
    assert response.status_code == 202
    ended = eventually(lambda: admin_api.call("GET", f"/alerts/{alert['id']}")["ended_at"], what="episode end")
    assert ended
    kinds = [e["kind"] for e in admin_api.call("GET", f"/alerts/{alert['id']}/events")]
    assert kinds == ["opened", "ended"]

    track = admin_api.call("GET", f"/supervisees/{person['id']}/track")
    assert track["type"] == "FeatureCollection" and len(track["features"]) >= 2
