"""Signal lost (脱管) is a person's fault only while they are monitored: the watchdog ends a live
signal-lost alert when the monitoring period is released (解除), and raises no new one after."""

from datetime import UTC, datetime, timedelta

from tests.factories import CENTRE, eventually, post_fixes


def test_a_release_ends_the_signal_lost_alert_and_raises_no_new_one(admin_api, ingest, platform):
    person = admin_api.supervisee(admin_api.district()["id"])
    token = admin_api.device(person["id"])["token"]
    last_fix = datetime.now(UTC) - timedelta(hours=2)  # silent for longer than the 60 min allowed
    fix = {"ts": last_fix.isoformat(), "lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10}
    assert post_fixes(ingest, token, [fix]).status_code == 202

    def signal_lost() -> list[dict]:
        found = admin_api.call("GET", f"/alerts?supervisee_id={person['id']}")
        return [a for a in found if a["rule"] == "signal_lost"]

    [alert] = eventually(signal_lost, what="signal lost while monitored")
    [period] = admin_api.call("GET", f"/supervisees/{person['id']}/monitoring-periods")
    [released] = admin_api.call(
        "POST", f"/supervisees/{person['id']}/monitoring-periods/{period['id']}/release", json={"reason": "解除"}
    )
    [ended] = eventually(lambda: [a for a in signal_lost() if a["ended_at"]], what="the alert ended at the release")
    # Ended by the release, not by a fix (which would end it at the fix's time).
    assert ended["id"] == alert["id"]
    assert datetime.fromisoformat(ended["ended_at"]) >= datetime.fromisoformat(released["released_at"])
    # Watchdog rounds go on (every 2 s in tests): the silence after the release is nobody's fault.
    assert [a["id"] for a in signal_lost()] == [alert["id"]]
