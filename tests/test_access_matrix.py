"""Who may call what: every route of both apps × every kind of caller × an object in and out of the
caller's districts → the expected status.

``ACCESS`` below is the access policy, written down; it is checked against the apps' own route tables,
so a new route without an entry fails ``test_every_route_has_an_entry``. Staff callers sit in one
county ("in"); the objects "out" of their scope belong to another county. An object out of scope
answers 404 (its existence is not revealed), a role that may not do something 403, a caller who is
not staff 401 on the portal; the ingest app knows only device, gateway and camera credentials. The
admin's scope is every district. A call that should succeed and changes something gets objects of its
own, so no cell depends on another."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi.routing import APIRoute

from caseload.auth import CSRF_HEADER, SESSION_COOKIE
from core.security import csrf_token
from core.wire import AlertLevel
from tests.alerts.helpers import raise_alert
from tests.factories import CENTRE, STAFF_PASSWORD, Api, now_iso, signed_in_as, square, unique
from tests.rollcall.answer_helpers import PHOTO_B64, answer, phone_sign_in, roll_call

STAFF = ("officer", "supervisor", "command", "auditor", "admin")
SOURCES = ("device", "gateway", "camera")
CALLERS = ("none", *STAFF, *SOURCES)
SCOPES = ("in", "out")

EVERYONE = frozenset(CALLERS)
ALL_STAFF = frozenset(STAFF)
HANDLERS = ALL_STAFF - {"auditor"}  # act on cases; auditors only read
MANAGERS = frozenset({"command", "admin"})
SUPERVISORS = frozenset({"supervisor", "command", "admin"})
ADMIN = frozenset({"admin"})
AUDITORS = frozenset({"auditor", "admin"})
OVERSEERS = frozenset({"auditor", "command", "admin"})
ADMIN_PAGES = ("/admin", "/admin/districts", "/admin/sources", "/admin/devices")

# The object a path parameter names.
PARAM_KINDS = {
    "supervisee_id": "person",
    "device_id": "device",
    "zone_id": "zone",
    "alert_id": "alert",
    "district_id": "county",
    "officer_id": "officer",
    "gateway_id": "gateway",
    "camera_id": "camera",
    "policy_id": "policy",
    "suspension_id": "suspension",
    "period_id": "period",
    "leave_id": "leave_request",
    "link_id": "phone_link",
    "message_id": "message",
    "roll_call_id": "roll_call",
    "target_id": "roll_call_target",
    "rule_id": "roll_call_rule",
}


@dataclass(frozen=True)
class Access:
    """Who succeeds on a route in scope; how to build its request (body, and path objects' kinds)."""

    allowed: frozenset[str]
    body: Callable | None = None  # (objects, county, caller) -> request kwargs
    scoped: bool = True  # does the request name something in a county (else only "in" is tried)
    kinds: dict = field(default_factory=dict)  # path parameter -> object kind, where not PARAM_KINDS'
    # What a caller not signed in as staff gets, where not 401 (pages redirect); staff not allowed get 403.
    refused: int | None = None
    own_session: bool = False  # ends the caller's session: staff call it as a new officer of their role
    # The phone page's routes: no staff or device credential works here (401); tests/rollcall tries phones.
    phone_only: bool = False


def expected(access: Access, ok: int, caller: str, scope: str, ingest: bool) -> frozenset[int]:
    if access.phone_only:
        return frozenset({401})
    if caller in access.allowed:
        return frozenset({404 if scope == "out" and access.scoped and caller != "admin" else ok})
    if access.refused and caller not in STAFF:
        return frozenset({access.refused})
    if ingest or caller not in STAFF:
        return frozenset({401})
    # A role refused an object out of its scope may learn either fact first: neither reveals the object.
    return frozenset({403, 404}) if scope == "out" and access.scoped else frozenset({403})


def _zone(o, county, caller):
    return {
        "json": {
            "name": "居住地 home",
            "kind": "inclusion",
            "supervisee_id": o["person"]["id"],
            "geometry": square(*CENTRE, 500),
        }
    }


def _leave(o, county, caller):
    start = datetime.now(UTC)
    return {
        "json": {
            "supervisee_id": o["person"]["id"],
            "destination": square(*CENTRE, 3000),
            "destination_name": "沈阳 Shenyang",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=2)).isoformat(),
            "reason": "探亲 family visit",
        }
    }


def _in_county(make: Callable[[dict], dict]) -> Callable:
    return lambda o, county, caller: {"json": make(county)}


def _fixes(o, county, caller):
    fix = {
        "device_id": o["device"]["external_id"],
        "ts": now_iso(),
        "lat": CENTRE[0],
        "lon": CENTRE[1],
        "accuracy_m": 9,
    }
    return {"json": {"fixes": [fix]}}


def _sighting(o, county, caller):
    return {"json": {"sightings": [{"person_code": o["person"]["code"], "ts": now_iso(), "confidence": 0.95}]}}


def _osmand(o, county, caller):
    # The OsmAnd id is the device's credential; anyone else presents one nobody registered.
    device_id = o["device"]["external_id"] if caller == "device" else unique("nobody")
    return {
        "params": {"id": device_id, "lat": CENTRE[0], "lon": CENTRE[1], "timestamp": int(datetime.now(UTC).timestamp())}
    }


def _owntracks(o, county, caller):
    device = o["device"]
    user, password = (device["external_id"], device["token"]) if caller == "device" else (unique("nobody"), "x")
    message = {
        "_type": "location",
        "lat": CENTRE[0],
        "lon": CENTRE[1],
        "tst": int(datetime.now(UTC).timestamp()),
        "acc": 9,
    }
    return {"json": message, "auth": (user, password)}


def _period(o, county, caller):
    today = datetime.now(UTC).date()
    grounds = ["left_area_without_approval"]
    return {"json": {"starts_on": str(today), "ends_on": str(today + timedelta(days=30)), "grounds": grounds}}


def _renewal(o, county, caller):
    ends_on = date.fromisoformat(o["period"]["ends_on"]) + timedelta(days=30)
    body = {"ends_on": str(ends_on), "grounds": ["left_area_without_approval"], "assessment": "仍有必要 still needed"}
    return {"json": body}


def _roll_call(o, county, caller):
    o["person"]  # someone in the county to call
    return {"json": {"mode": "phone", "audience": {"district_id": county["id"]}}}


def _new_password(encoding: str) -> Callable:
    return lambda o, c, caller: {encoding: {"current_password": STAFF_PASSWORD, "new_password": unique("new-pass-")}}


OSMAND = Access(frozenset({"device"}), _osmand, scoped=False)

PHONE_ONLY = {"scoped": False, "phone_only": True}
PHONE = Access(frozenset(), **PHONE_ONLY)
# The answers' routes name an answered target (a photo to show, an answer to verify).
ANSWERED = {"target_id": "answered_target"}

PORTAL: dict[tuple[str, str], Access] = {
    ("GET", "/health"): Access(EVERYONE, scoped=False),
    ("GET", "/ready"): Access(EVERYONE, scoped=False),
    ("GET", "/docs"): Access(EVERYONE, scoped=False),
    ("POST", "/api/v1/auth/token"): Access(
        EVERYONE,
        lambda o, c, caller: {"data": {"username": o["officer"]["username"], "password": STAFF_PASSWORD}},
        scoped=False,
    ),
    ("POST", "/api/v1/auth/password"): Access(ALL_STAFF, _new_password("json"), scoped=False, own_session=True),
    ("POST", "/api/v1/auth/logout"): Access(ALL_STAFF, scoped=False, own_session=True),
    ("GET", "/api/v1/auth/me"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/districts"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/districts"): Access(
        ADMIN, _in_county(lambda c: {"code": unique("D"), "name": "镇 town", "level": "township", "parent_id": c["id"]})
    ),
    ("GET", "/api/v1/districts/{district_id}"): Access(ALL_STAFF),
    ("PATCH", "/api/v1/districts/{district_id}"): Access(ADMIN, lambda o, c, caller: {"json": {"name": "改 renamed"}}),
    ("DELETE", "/api/v1/districts/{district_id}"): Access(ADMIN, kinds={"district_id": "town"}),
    ("GET", "/api/v1/officers"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/officers"): Access(
        MANAGERS,
        _in_county(
            lambda c: {
                "username": unique("u"),
                "full_name": "新 New",
                "password": STAFF_PASSWORD,
                "role": "officer",
                "district_id": c["id"],
            }
        ),
    ),
    ("GET", "/api/v1/officers/{officer_id}"): Access(ALL_STAFF),
    ("PATCH", "/api/v1/officers/{officer_id}"): Access(
        MANAGERS, lambda o, c, caller: {"json": {"full_name": "改 Renamed"}}
    ),
    ("GET", "/api/v1/supervisees"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/supervisees"): Access(
        HANDLERS,
        _in_county(
            lambda c: {
                "code": unique("S"),
                "full_name": "李四",
                "category": "parole",
                "district_id": c["id"],
                "supervision_start": "2026-01-01",
            }
        ),
    ),
    ("GET", "/api/v1/supervisees/{supervisee_id}"): Access(ALL_STAFF),
    ("PATCH", "/api/v1/supervisees/{supervisee_id}"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"risk_level": "high"}}
    ),
    ("DELETE", "/api/v1/supervisees/{supervisee_id}"): Access(HANDLERS),
    ("GET", "/api/v1/supervisees/{supervisee_id}/devices"): Access(ALL_STAFF),
    ("POST", "/api/v1/supervisees/{supervisee_id}/devices"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"kind": "phone"}}
    ),
    ("DELETE", "/api/v1/supervisees/{supervisee_id}/devices/{device_id}"): Access(HANDLERS),
    ("POST", "/api/v1/supervisees/{supervisee_id}/phones"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"kind": "phone"}}
    ),
    ("GET", "/api/v1/supervisees/{supervisee_id}/sightings"): Access(ALL_STAFF),
    ("GET", "/api/v1/gateways"): Access(MANAGERS, scoped=False),
    ("POST", "/api/v1/gateways"): Access(
        MANAGERS, _in_county(lambda c: {"name": "平台 vendor", "district_id": c["id"]})
    ),
    ("DELETE", "/api/v1/gateways/{gateway_id}"): Access(MANAGERS),
    ("GET", "/api/v1/cameras"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/cameras"): Access(
        MANAGERS,
        _in_county(
            lambda c: {
                "code": unique("CAM"),
                "name": "路口 crossing",
                "district_id": c["id"],
                "lat": CENTRE[0],
                "lon": CENTRE[1],
            }
        ),
    ),
    ("PATCH", "/api/v1/cameras/{camera_id}"): Access(MANAGERS, lambda o, c, caller: {"json": {"name": "改 renamed"}}),
    ("GET", "/api/v1/zones"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/zones"): Access(HANDLERS, _zone),
    ("GET", "/api/v1/zones/{zone_id}"): Access(ALL_STAFF),
    ("PATCH", "/api/v1/zones/{zone_id}"): Access(HANDLERS, lambda o, c, caller: {"json": {"name": "改 renamed"}}),
    ("POST", "/api/v1/zones/{zone_id}/return"): Access(HANDLERS, kinds={"zone_id": "leave"}),
    ("DELETE", "/api/v1/zones/{zone_id}"): Access(HANDLERS),
    ("GET", "/api/v1/leaves"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/leaves"): Access(HANDLERS, _leave),
    ("GET", "/api/v1/leaves/{leave_id}"): Access(ALL_STAFF),
    ("POST", "/api/v1/leaves/{leave_id}/approve"): Access(SUPERVISORS, lambda o, c, caller: {"json": {}}),
    ("POST", "/api/v1/leaves/{leave_id}/refuse"): Access(
        SUPERVISORS, lambda o, c, caller: {"json": {"note": "不批 no"}}
    ),
    ("POST", "/api/v1/leaves/{leave_id}/return"): Access(HANDLERS, kinds={"leave_id": "approved_leave"}),
    ("GET", "/api/v1/positions/live"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/supervisees/{supervisee_id}/track"): Access(ALL_STAFF),
    ("GET", "/api/v1/supervisees/{supervisee_id}/track.gpx"): Access(ALL_STAFF),
    ("GET", "/api/v1/supervisees/{supervisee_id}/track.geojson"): Access(ALL_STAFF),
    ("GET", "/api/v1/devices/unknown"): Access(MANAGERS, scoped=False),
    ("GET", "/api/v1/events/stream"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/positions/stream"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/admin/dlq"): Access(ADMIN, scoped=False),
    ("POST", "/api/v1/admin/dlq/replay"): Access(ADMIN, lambda o, c, caller: {"json": {"offsets": []}}, scoped=False),
    ("GET", "/api/v1/alerts"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/alerts/{alert_id}"): Access(ALL_STAFF),
    ("GET", "/api/v1/alerts/{alert_id}/events"): Access(ALL_STAFF),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): Access(HANDLERS, lambda o, c, caller: {"json": {}}),
    ("POST", "/api/v1/alerts/{alert_id}/escalate"): Access(HANDLERS, lambda o, c, caller: {"json": {}}),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"disposition": "other"}}
    ),
    ("GET", "/api/v1/alert-policies"): Access(ALL_STAFF, scoped=False),
    ("PUT", "/api/v1/alert-policies"): Access(
        SUPERVISORS, _in_county(lambda c: {"district_id": c["id"], "thresholds": {"ack_sla_red_min": 20}})
    ),
    ("DELETE", "/api/v1/alert-policies/{policy_id}"): Access(SUPERVISORS),
    ("GET", "/api/v1/supervisees/{supervisee_id}/alert-policy"): Access(ALL_STAFF),
    ("POST", "/api/v1/supervisees/{supervisee_id}/alert-suspensions"): Access(
        HANDLERS,
        lambda o, c, caller: {
            "json": {"until": (datetime.now(UTC) + timedelta(hours=2)).isoformat(), "reason": "请假 leave"}
        },
    ),
    ("GET", "/api/v1/supervisees/{supervisee_id}/alert-suspensions"): Access(ALL_STAFF),
    ("DELETE", "/api/v1/supervisees/{supervisee_id}/alert-suspensions/{suspension_id}"): Access(HANDLERS),
    # An officer's report has their own row only.
    ("GET", "/api/v1/reports/response-times"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/supervisees/{supervisee_id}/monitoring-periods"): Access(ALL_STAFF),
    ("POST", "/api/v1/supervisees/{supervisee_id}/monitoring-periods"): Access(
        SUPERVISORS, _period, kinds={"supervisee_id": "unmonitored"}
    ),
    ("POST", "/api/v1/supervisees/{supervisee_id}/monitoring-periods/{period_id}/renew"): Access(SUPERVISORS, _renewal),
    ("POST", "/api/v1/supervisees/{supervisee_id}/monitoring-periods/{period_id}/release"): Access(
        SUPERVISORS, lambda o, c, caller: {"json": {"reason": "解除 no longer needed"}}
    ),
    ("GET", "/api/v1/monitoring/ending"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/rollcalls"): Access(HANDLERS, _roll_call),
    ("GET", "/api/v1/rollcalls"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/rollcalls/{roll_call_id}"): Access(ALL_STAFF),
    ("GET", "/api/v1/rollcalls/stats"): Access(ALL_STAFF, scoped=False),
    ("GET", "/api/v1/rollcall-rules"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/rollcall-rules"): Access(
        SUPERVISORS, _in_county(lambda c: {"district_id": c["id"], "risk_level": "high", "times_per_period": 2})
    ),
    ("PATCH", "/api/v1/rollcall-rules/{rule_id}"): Access(
        SUPERVISORS, lambda o, c, caller: {"json": {"active": False}}
    ),
    ("DELETE", "/api/v1/rollcall-rules/{rule_id}"): Access(SUPERVISORS),
    ("GET", "/api/v1/rollcalls/{roll_call_id}/targets"): Access(ALL_STAFF),
    # Officers cancel only the roll calls they issued (these are the admin's).
    ("POST", "/api/v1/rollcalls/{roll_call_id}/cancel"): Access(SUPERVISORS),
    ("POST", "/api/v1/rollcall-targets/{target_id}/excuse"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"reason": "住院 in hospital"}}
    ),
    ("GET", "/api/v1/audit"): Access(AUDITORS, scoped=False),
    ("GET", "/api/v1/audit/verify"): Access(AUDITORS, scoped=False),
    ("GET", "/api/v1/audit/alerts"): Access(OVERSEERS, scoped=False),
    # Pages answer a visitor who is not signed in (by cookie) with the way to the sign-in page.
    ("GET", "/login"): Access(EVERYONE, scoped=False),
    ("POST", "/login"): Access(
        EVERYONE,
        lambda o, c, caller: {"data": {"username": o["officer"]["username"], "password": STAFF_PASSWORD}},
        scoped=False,
    ),
    ("POST", "/logout"): Access(EVERYONE, scoped=False, own_session=True),
    ("GET", "/password"): Access(ALL_STAFF, scoped=False, refused=303),
    ("POST", "/password"): Access(ALL_STAFF, _new_password("data"), scoped=False, refused=303, own_session=True),
    ("GET", "/"): Access(ALL_STAFF, scoped=False, refused=303),
    ("GET", "/alerts"): Access(ALL_STAFF, scoped=False, refused=303),
    ("GET", "/alerts/{alert_id}"): Access(ALL_STAFF, refused=303),
    ("GET", "/reports/response-times"): Access(SUPERVISORS, scoped=False, refused=303),
    # A member of staff whose role may not see a page gets a 403 page; anyone else the way to sign in.
    ("GET", "/audit"): Access(OVERSEERS, scoped=False, refused=303),
    ("GET", "/audit/log"): Access(AUDITORS, scoped=False, refused=303),
    ("GET", "/audit/tracks"): Access(AUDITORS, scoped=False, refused=303),
    ("GET", "/audit/chain"): Access(AUDITORS, scoped=False, refused=303),
    ("GET", "/command"): Access(SUPERVISORS, scoped=False, refused=303),
    **{("GET", path): Access(MANAGERS, scoped=False, refused=303) for path in ADMIN_PAGES},
    ("GET", "/supervisees/{supervisee_id}/track"): Access(ALL_STAFF, refused=303),
    ("GET", "/supervisees/{supervisee_id}/track/report"): Access(ALL_STAFF, refused=303),
    ("GET", "/zones"): Access(HANDLERS, scoped=False, refused=303),
    ("GET", "/supervisees"): Access(HANDLERS, scoped=False, refused=303),
    ("GET", "/supervisees/{supervisee_id}"): Access(HANDLERS, refused=303),
    # The supervisee's phone page (#16): staff make sign-in links and send messages; the page is public.
    ("POST", "/api/v1/supervisees/{supervisee_id}/phone-links"): Access(HANDLERS),
    ("GET", "/api/v1/supervisees/{supervisee_id}/phone-links"): Access(ALL_STAFF),
    ("POST", "/api/v1/phone-links/{link_id}/revoke"): Access(HANDLERS),
    ("GET", "/api/v1/supervisees/{supervisee_id}/messages"): Access(ALL_STAFF),
    ("POST", "/api/v1/supervisees/{supervisee_id}/messages"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"body": "请明天来司法所 come to the office tomorrow"}}
    ),
    ("POST", "/api/v1/phone/sign-in"): Access(
        frozenset(), lambda o, c, caller: {"json": {"code": "not-a-code"}}, **PHONE_ONLY
    ),
    ("POST", "/api/v1/phone/sign-out"): Access(EVERYONE, scoped=False),
    ("GET", "/api/v1/phone/home"): PHONE,
    ("GET", "/api/v1/phone/stream"): PHONE,
    ("POST", "/api/v1/phone/positions"): PHONE,
    ("POST", "/api/v1/phone/leaves"): PHONE,
    ("POST", "/api/v1/phone/leaves/{leave_id}/return"): PHONE,
    ("POST", "/api/v1/phone/messages/{message_id}/read"): PHONE,
    ("GET", "/m/"): Access(EVERYONE, scoped=False),
    ("GET", "/m/manifest.webmanifest"): Access(EVERYONE, scoped=False),
    ("GET", "/m/sw.js"): Access(EVERYONE, scoped=False),
    ("GET", "/api/v1/rollcall-targets/{target_id}/photo"): Access(ALL_STAFF, kinds=ANSWERED),
    ("POST", "/api/v1/rollcall-targets/{target_id}/verify"): Access(
        HANDLERS, lambda o, c, caller: {"json": {"confirmed": False, "note": "不是本人 not the person"}}, kinds=ANSWERED
    ),
    ("GET", "/api/v1/rollcall-verifications"): Access(ALL_STAFF, scoped=False),
    ("POST", "/api/v1/phone/rollcalls/{target_id}/answer"): Access(
        frozenset(),
        lambda o, c, caller: {"json": {"lat": CENTRE[0], "lon": CENTRE[1], "accuracy_m": 10, "photo": PHOTO_B64}},
        scoped=False,
        phone_only=True,
        kinds=ANSWERED,
    ),
}

INGEST: dict[tuple[str, str], Access] = {
    ("GET", "/health"): Access(EVERYONE, scoped=False),
    ("GET", "/ready"): Access(EVERYONE, scoped=False),
    ("GET", "/docs"): Access(EVERYONE, scoped=False),
    ("POST", "/api/v1/fixes"): Access(frozenset({"device", "gateway"}), _fixes, scoped=False),
    ("POST", "/api/v1/sightings"): Access(frozenset({"camera"}), _sighting, scoped=False),
    **{(method, path): OSMAND for method in ("GET", "POST", "PUT") for path in ("/", "/osmand")},
    ("POST", "/owntracks"): Access(frozenset({"device"}), _owntracks, scoped=False),
}


def _routes(routes, prefix: str = "") -> Iterator[tuple[str, str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.120)
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _app_routes(app_name: str) -> dict[tuple[str, str], APIRoute]:
    if app_name == "portal":
        from officer_portal.app import app
    else:
        from tracker_ingest.app import api_app as app
    return {(method, path): route for method, path, route in _routes(app.routes)}


TABLES = {"portal": PORTAL, "ingest": INGEST}
ROUTE_NUMBERS = {
    (app_name, method, path): n
    for n, (app_name, method, path) in enumerate(((a, m, p) for a, table in TABLES.items() for m, p in table), 1)
}


@pytest.mark.parametrize("app_name", TABLES)
def test_every_route_has_an_entry(app_name):
    routes, table = set(_app_routes(app_name)), set(TABLES[app_name])
    assert sorted(routes - table) == [], "routes without an access entry: add them to this file's tables"
    assert sorted(table - routes) == [], "entries for routes that no longer exist"


class World:
    """Two counties with the same things in each; staff of every role in the first."""

    def __init__(self, admin_api, portal_url: str, ingest_url: str) -> None:
        self.admin = admin_api
        self.portal_url, self.ingest_url = portal_url, ingest_url
        self.county = {scope: admin_api.district() for scope in SCOPES}
        home = self.county["in"]["id"]
        self.staff = {role: admin_api.officer(home, role=role) for role in STAFF if role != "admin"}
        self.caseload_officer = {"in": self.staff["officer"], "out": admin_api.officer(self.county["out"]["id"])}
        self._caseload_apis: dict[str, Api] = {}
        self.standing = {scope: self.objects(scope) for scope in SCOPES}
        self.headers = {"none": {}}
        tokens = {role: self._token(o["username"]) for role, o in self.staff.items()}
        tokens["admin"] = admin_api.client.headers["Authorization"].removeprefix("Bearer ")
        tokens |= {kind: self.standing["in"][kind]["token"] for kind in SOURCES}
        self.headers |= {caller: {"Authorization": f"Bearer {token}"} for caller, token in tokens.items()}

    def caseload_api(self, scope: str) -> Api:
        """The caseload officer of a county, signed in once (a sign-in costs a password hash)."""
        if scope not in self._caseload_apis:
            self._caseload_apis[scope] = signed_in_as(self.portal_url, self.caseload_officer[scope])
        return self._caseload_apis[scope]

    def own_session(self, caller: str) -> str:
        """A new officer of the caller's role, signed in: for calls that end the caller's session."""
        return self._token(self.admin.officer(self.county["in"]["id"], role=caller)["username"])

    def _token(self, username: str) -> str:
        answer = httpx.post(
            f"{self.portal_url}/api/v1/auth/token", data={"username": username, "password": STAFF_PASSWORD}
        )
        return answer.json()["access_token"]

    def objects(self, scope: str) -> "Objects":
        return Objects(self, scope)


class Objects(dict):
    """One county's things, each made when first asked for."""

    def __init__(self, world: World, scope: str) -> None:
        super().__init__()
        self.world, self.scope = world, scope

    def __missing__(self, kind: str):
        api, county = self.world.admin, self.world.county[self.scope]
        made = {
            "county": lambda: county,
            "town": lambda: api.call(
                "POST",
                "/districts",
                201,
                json={"code": unique("T"), "name": "镇 town", "level": "township", "parent_id": county["id"]},
            ),
            "officer": lambda: api.officer(county["id"]),
            "person": lambda: api.supervisee(county["id"], self.world.caseload_officer[self.scope]["id"]),
            "unmonitored": lambda: api.supervisee(
                county["id"], self.world.caseload_officer[self.scope]["id"], monitored=False
            ),
            "period": lambda: api.call("GET", f"/supervisees/{self['person']['id']}/monitoring-periods")[0],
            "device": lambda: api.device(self["person"]["id"]),
            "zone": lambda: api.home_zone(self["person"]["id"]),
            "leave": lambda: api.call(
                "POST",
                "/zones",
                201,
                json={
                    "name": "请假 leave",
                    "kind": "inclusion",
                    "supervisee_id": self["person"]["id"],
                    "geometry": square(*CENTRE, 2000),
                    "travel_leave": True,
                    "valid_from": datetime.now(UTC).isoformat(),
                    "valid_to": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
                },
            ),
            # Asked by the person's officer, so that any supervisor or admin may decide it.
            "leave_request": lambda: self.world.caseload_api(self.scope).call(
                "POST", "/leaves", 201, **_leave(self, county, None)
            ),
            "approved_leave": lambda: api.call("POST", f"/leaves/{self['leave_request']['id']}/approve", json={}),
            "gateway": lambda: api.call(
                "POST", "/gateways", 201, json={"name": "平台 vendor", "district_id": county["id"]}
            ),
            "camera": lambda: api.call(
                "POST",
                "/cameras",
                201,
                json={
                    "code": unique("CAM"),
                    "name": "路口",
                    "district_id": county["id"],
                    "lat": CENTRE[0],
                    "lon": CENTRE[1],
                },
            ),
            "alert": lambda: self._alert(),
            "phone_link": lambda: api.call("POST", f"/supervisees/{self['person']['id']}/phone-links", 201),
            "message": lambda: api.call(
                "POST", f"/supervisees/{self['person']['id']}/messages", 201, json={"body": "消息 message"}
            ),
            "answered_target": lambda: self._answered_target(),
            "policy": lambda: api.call(
                "PUT",
                "/alert-policies",
                json={"district_id": self["town"]["id"], "thresholds": {"ack_sla_red_min": 25}},
            ),
            "roll_call": lambda: api.call(
                "POST",
                "/rollcalls",
                201,
                json={"mode": "phone", "audience": {"supervisee_ids": [self["person"]["id"]]}},
            ),
            "roll_call_rule": lambda: api.call(
                "POST", "/rollcall-rules", 201, json={"district_id": county["id"], "risk_level": "low", "active": False}
            ),
            "roll_call_target": lambda: api.call("GET", f"/rollcalls/{self['roll_call']['id']}/targets")[0],
            "suspension": lambda: api.call(
                "POST",
                f"/supervisees/{self['person']['id']}/alert-suspensions",
                201,
                json={"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), "reason": "请假 leave"},
            ),
        }[kind]()
        self[kind] = made
        return made

    def _answered_target(self) -> dict:
        """A phone roll call the person answered (with a photo, queued for verification)."""
        person_id = self["person"]["id"]
        [target_id] = roll_call([person_id])
        _, token = phone_sign_in(person_id)
        with httpx.Client(base_url=self.world.portal_url, timeout=30) as portal:
            assert answer(portal, token, target_id, *CENTRE).status_code == 200
        return {"id": target_id}

    def _alert(self) -> dict:
        person = self["person"]
        raise_alert(person["id"], datetime.now(UTC), AlertLevel.red, key=unique(f"matrix:{person['id']}:"))
        return self.world.admin.call("GET", f"/alerts?supervisee_id={person['id']}")[-1]


@pytest.fixture(scope="module")
def world(admin_api, portal_url, ingest_url) -> World:
    return World(admin_api, portal_url, ingest_url)


def _call(world: World, app_name: str, method: str, path: str, access: Access, caller: str, scope: str, fresh: bool):
    objects = world.objects(scope) if fresh else world.standing[scope]
    params = {name: objects[access.kinds.get(name) or PARAM_KINDS[name]]["id"] for name in _path_params(path)}
    kwargs = access.body(objects, world.county[scope], caller) if access.body else {}
    base = world.portal_url if app_name == "portal" else world.ingest_url
    headers = {} if "auth" in kwargs else dict(world.headers[caller])
    if access.own_session and caller in STAFF:
        headers = {"Authorization": f"Bearer {world.own_session(caller)}"}
    cookies = None
    if app_name == "portal" and not path.startswith("/api/") and caller in STAFF:
        # Pages know the session by its cookie, and a change needs the session's CSRF token.
        session_token = headers.pop("Authorization").removeprefix("Bearer ")
        cookies = {SESSION_COOKIE: session_token}
        headers = {CSRF_HEADER: csrf_token(session_token)}
    # Ingest budgets failed sign-ins per source address: each route's refusals come from an address of
    # their own, so they neither trip that budget nor spend the one other tests' requests share.
    source = f"127.0.1.{ROUTE_NUMBERS[(app_name, method, path)]}"
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, timeout=30, cookies=cookies, transport=transport) as client:
        if path in ("/api/v1/events/stream", "/api/v1/positions/stream"):
            with client.stream(method, path.format(**params), headers=headers) as response:
                return response.status_code, ""
        response = client.request(method, path.format(**params), headers=headers, **kwargs)
        return response.status_code, response.text[:160]


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _ok(route: APIRoute, method: str, path: str) -> int:
    if (method, path) in PAGE_OK:
        return PAGE_OK[(method, path)]
    return route.status_code or 200


# Pages: a staff caller (cookie) gets the page; signing in, out and changing the password redirect.
PAGE_OK = {("POST", "/login"): 303, ("POST", "/logout"): 303, ("POST", "/password"): 303}


@pytest.mark.parametrize(
    ("app_name", "method", "path"), [(app_name, m, p) for app_name, table in TABLES.items() for m, p in table]
)
def test_access(world, app_name, method, path):
    access = TABLES[app_name][(method, path)]
    route = _app_routes(app_name)[(method, path)]
    ok = _ok(route, method, path)
    wrong = []
    for scope in SCOPES if access.scoped else ("in",):
        for caller in CALLERS:
            expect = expected(access, ok, caller, scope, ingest=app_name == "ingest")
            fresh = app_name == "portal" and method != "GET" and min(expect) < 400
            got, text = _call(world, app_name, method, path, access, caller, scope, fresh)
            if got not in expect:
                wanted = " or ".join(map(str, sorted(expect)))
                wrong.append(f"{caller:>10} {scope:>3}: expected {wanted}, got {got} {text}")
    assert wrong == [], f"{method} {path}\n" + "\n".join(wrong)
