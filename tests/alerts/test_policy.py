"""Alert policy: thresholds per district and risk level, layered from the defaults down to the
person's own district and risk level; the API that edits them, its checks and its audit trail."""

from dataclasses import asdict

import pytest
from sqlalchemy import text

from alerts import policy
from core.db import session_scope
from tests.alerts.helpers import audit_entries, audit_problems
from tests.factories import signed_in_as

DEFAULTS = asdict(policy.defaults())


def _person(admin_api, district_id: int, risk: str) -> dict:
    person = admin_api.supervisee(district_id)
    return admin_api.call("PATCH", f"/supervisees/{person['id']}", json={"risk_level": risk})


def _put(api, thresholds: dict, district_id: int | None = None, risk_level: str | None = None, expect: int = 200):
    body = {"district_id": district_id, "risk_level": risk_level, "thresholds": thresholds}
    return api.call("PUT", "/alert-policies", expect, json=body)


@pytest.fixture
def hierarchy(admin_api):
    """root ⊃ county ⊃ township, a sibling county, and a separate root; overrides on most layers.
    The risk-level override applies everywhere, so it is removed afterwards."""
    root = admin_api.district()
    county = admin_api.district(root["id"])
    township = admin_api.district(county["id"])
    sibling = admin_api.district(root["id"])
    elsewhere = admin_api.district()
    layers = {
        "high": _put(admin_api, {"signal_lost_yellow_min": 11, "signal_lost_red_min": 12}, risk_level="high"),
        "root": _put(
            admin_api, {"signal_lost_yellow_min": 21, "ack_sla_red_min": 22, "ack_sla_yellow_min": 23}, root["id"]
        ),
        "county": _put(admin_api, {"ack_sla_red_min": 32}, county["id"]),
        "township": _put(admin_api, {"ack_sla_yellow_min": 43}, township["id"]),
        "root_high": _put(admin_api, {"inclusion_red_after_min": 54, "signal_lost_red_min": 55}, root["id"], "high"),
        "county_high": _put(admin_api, {"repeat_yellow_days": 66, "inclusion_red_after_min": 64}, county["id"], "high"),
        "township_high": _put(admin_api, {"inclusion_red_after_min": 74}, township["id"], "high"),
    }
    people = {
        "township_high": _person(admin_api, township["id"], "high"),
        "township_low": _person(admin_api, township["id"], "low"),
        "sibling_high": _person(admin_api, sibling["id"], "high"),
        "elsewhere_high": _person(admin_api, elsewhere["id"], "high"),
        "elsewhere_medium": _person(admin_api, elsewhere["id"], "medium"),
    }
    yield {"districts": {"root": root, "county": county, "township": township}, "layers": layers, "people": people}
    admin_api.call("DELETE", f"/alert-policies/{layers['high']['id']}", 204)


def test_the_most_specific_layer_wins(hierarchy):
    people = hierarchy["people"]
    with session_scope() as session:
        found = policy.policies_for(session=session, supervisee_ids=[p["id"] for p in people.values()] + [-1])
        single = policy.policy_for(session=session, supervisee_id=people["township_low"]["id"])
    got = {name: asdict(found[p["id"]]) for name, p in people.items()}
    assert got["township_high"] == DEFAULTS | {
        "signal_lost_yellow_min": 21,  # the root district's beats the risk level's
        "signal_lost_red_min": 55,  # the root's high-risk one beats the risk level's
        "ack_sla_red_min": 32,  # the county's beats the root's
        "ack_sla_yellow_min": 43,  # the township's beats the root's
        "inclusion_red_after_min": 74,  # high risk: township beats county beats root
        "repeat_yellow_days": 66,
    }
    assert got["township_low"] == DEFAULTS | {
        "signal_lost_yellow_min": 21,
        "ack_sla_red_min": 32,
        "ack_sla_yellow_min": 43,
    }
    assert asdict(single) == got["township_low"]
    assert got["sibling_high"] == DEFAULTS | {
        "signal_lost_yellow_min": 21,
        "signal_lost_red_min": 55,
        "ack_sla_red_min": 22,
        "ack_sla_yellow_min": 23,
        "inclusion_red_after_min": 54,
    }
    assert got["elsewhere_high"] == DEFAULTS | {"signal_lost_yellow_min": 11, "signal_lost_red_min": 12}
    assert got["elsewhere_medium"] == DEFAULTS
    assert asdict(found[-1]) == DEFAULTS  # unknown to the caseload


def test_a_person_shows_the_layers_their_policy_comes_from(hierarchy, admin_api):
    person, layers = hierarchy["people"]["township_high"], hierarchy["layers"]
    shown = admin_api.call("GET", f"/supervisees/{person['id']}/alert-policy")
    order = ["high", "root", "county", "township", "root_high", "county_high", "township_high"]
    assert [p["id"] for p in shown["applied"]] == [layers[name]["id"] for name in order]
    assert shown["thresholds"]["inclusion_red_after_min"] == 74
    # A change of risk level changes the policy at once.
    admin_api.call("PATCH", f"/supervisees/{person['id']}", json={"risk_level": "low"})
    shown = admin_api.call("GET", f"/supervisees/{person['id']}/alert-policy")
    assert [p["id"] for p in shown["applied"]] == [layers[name]["id"] for name in ("root", "county", "township")]


def test_put_replaces_a_scope_and_delete_falls_back(hierarchy, admin_api):
    county = hierarchy["districts"]["county"]
    person = hierarchy["people"]["township_low"]
    first = hierarchy["layers"]["county"]
    second = _put(admin_api, {"signal_lost_red_min": 99}, county["id"])
    assert second["id"] == first["id"] and second["thresholds"] == {"signal_lost_red_min": 99}
    with session_scope() as session:
        mine = policy.policy_for(session=session, supervisee_id=person["id"])
    assert (mine.signal_lost_red_min, mine.ack_sla_red_min) == (99, 22)  # the county no longer sets the SLA
    admin_api.call("DELETE", f"/alert-policies/{first['id']}", 204)
    with session_scope() as session:
        assert (
            policy.policy_for(session=session, supervisee_id=person["id"]).signal_lost_red_min
            == DEFAULTS["signal_lost_red_min"]
        )
    admin_api.call("DELETE", f"/alert-policies/{first['id']}", 404)
    actions = [(e.action, e.detail.get("previous")) for e in audit_entries("alert_policy", first["id"])]
    assert actions == [
        ("alert_policy.update", None),
        ("alert_policy.update", {"ack_sla_red_min": 32}),
        ("alert_policy.delete", {"signal_lost_red_min": 99}),
    ]
    assert audit_problems() == []


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"thresholds": {"signal_lost_red_min": 5, "bogus_min": 3}}, "thresholds.bogus_min", "Extra inputs"),
        ({"thresholds": {"ack_sla_red_min": 0}}, "thresholds.ack_sla_red_min", "greater than 0"),
        ({"thresholds": {"inclusion_red_distance_m": -5.0}}, "thresholds.inclusion_red_distance_m", "greater than 0"),
        ({"thresholds": {"repeat_yellow_count": "three"}}, "thresholds.repeat_yellow_count", "valid integer"),
        ({"thresholds": {"repeat_yellow_count": None}}, "thresholds.repeat_yellow_count", "valid integer"),
        # Unbounded, these overflowed timedelta/int4 and wedged the watchdog and escalation for everyone.
        ({"thresholds": {"ack_sla_red_min": 10**12}}, "thresholds.ack_sla_red_min", "less than or equal to 129600"),
        ({"thresholds": {"signal_lost_red_min": 2**31}}, "thresholds.signal_lost_red_min", "less than or equal"),
        ({"thresholds": {"inclusion_red_distance_m": 1e300}}, "thresholds.inclusion_red_distance_m", "less than"),
        ({"thresholds": {"repeat_yellow_days": 100_000}}, "thresholds.repeat_yellow_days", "less than or equal to 366"),
        ({"thresholds": {}}, "", "thresholds is empty"),
        ({"district_id": None, "risk_level": None, "thresholds": {"ack_sla_red_min": 5}}, "", "district_id"),
        ({"risk_level": "extreme", "thresholds": {"ack_sla_red_min": 5}}, "risk_level", "Input should be"),
    ],
)
def test_invalid_overrides_are_refused_with_the_reason(admin_api, body, field, reason):
    district = admin_api.district()
    body = {"district_id": district["id"]} | body
    (error,) = admin_api.call("PUT", "/alert-policies", 422, json=body)["detail"]
    assert error["field"] == field and reason in error["reason"]


def test_a_stored_override_out_of_bounds_is_skipped_not_applied(admin_api, db):
    # Saved before the bounds existed: the layers below apply instead of a value that overflows.
    district = admin_api.district()
    person = admin_api.supervisee(district["id"])
    db.execute(
        text("INSERT INTO alert_policy (district_id, thresholds, updated_at) VALUES (:d, :t, now())"),
        {"d": district["id"], "t": '{"ack_sla_red_min": 1000000000000, "repeat_yellow_days": 9}'},
    )
    found = policy.policy_for(session=db, supervisee_id=person["id"])
    assert (found.ack_sla_red_min, found.repeat_yellow_days) == (DEFAULTS["ack_sla_red_min"], 9)


def test_who_may_change_policies(admin_api, portal_url):
    root = admin_api.district()
    county = admin_api.district(root["id"])
    other = admin_api.district()
    staff = {
        role: signed_in_as(portal_url, admin_api.officer(county["id"], role=role)) for role in ("officer", "auditor")
    }
    supervisor = signed_in_as(portal_url, admin_api.officer(county["id"], role="supervisor"))
    command = signed_in_as(portal_url, admin_api.officer(root["id"], role="command"))
    change = {"ack_sla_red_min": 10}

    for api in staff.values():
        _put(api, change, county["id"], expect=403)
    mine = _put(supervisor, change, county["id"])
    _put(supervisor, change, root["id"], expect=404)  # above the supervisor's districts
    _put(supervisor, change, other["id"], expect=404)
    _put(supervisor, change, risk_level="high", expect=403)  # would apply in every district
    _put(command, change, county["id"], "high")
    theirs = _put(admin_api, change, other["id"])

    listed = {p["id"] for p in supervisor.call("GET", "/alert-policies")}
    assert mine["id"] in listed and theirs["id"] not in listed
    assert mine["id"] in {p["id"] for p in staff["auditor"].call("GET", "/alert-policies")}
    staff["auditor"].call("DELETE", f"/alert-policies/{mine['id']}", 403)
    supervisor.call("DELETE", f"/alert-policies/{theirs['id']}", 404)
    supervisor.call("DELETE", f"/alert-policies/{mine['id']}", 204)
