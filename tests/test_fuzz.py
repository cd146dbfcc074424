"""Both apps' OpenAPI fuzzed with schemathesis against the running test platform: every operation
(new routes are picked up from the schema), as an admin and as an officer, a bounded number of
examples each. No answer may be a 5xx, and every answer must be one the schema declares: its status
code, its content type and its shape.

The admin fuzzes every read and every creation, but no operation that changes or removes an existing
record chosen by id: with an admin's reach a random id hits records of other tests (and the admin's
own account: a changed password or a deactivation would sign it out). Those operations are fuzzed by
a command officer of a district made here, whose scope confines them to that district; it leaves its
own account alone for the same reason. Signing out and changing one's password end the caller's
sessions, so an officer of its own fuzzes those two. The live streams are never fuzzed: they do not
end."""

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from officer_portal.app import app as portal_app
from tests.factories import signed_in_as
from tracker_ingest.app import api_app as ingest_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8
# Its own source address, so that the failed sign-ins it makes count against nobody else's limit.
FUZZER_ADDRESS = "127.0.0.3"
STREAMS = {
    ("GET", "/api/v1/events/stream"),
    ("GET", "/api/v1/positions/stream"),
    ("GET", "/api/v1/rollcalls/{roll_call_id}/stream"),
}
SESSION_ENDERS = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}
tried: Counter = Counter()

# The schemas come from the app objects (what the running processes serve); the requests go to the
# running processes.
portal = schemathesis.openapi.from_dict(portal_app.openapi())
ingest = schemathesis.openapi.from_dict(ingest_app.openapi())
examples = settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class _FromAddress(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (FUZZER_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        session.mount("http://", _FromAddress())
        yield session


@pytest.fixture(scope="module")
def fuzzers(portal_url, admin_api):
    """Bearer headers of the admin and of a command officer whose district holds a person with a device."""
    district = admin_api.district()
    command = admin_api.officer(district["id"], role="command")
    person = admin_api.supervisee(district["id"])
    device = admin_api.device(person["id"])
    as_command = signed_in_as(portal_url, command)
    as_itself = signed_in_as(portal_url, admin_api.officer(district["id"]))
    yield {
        "admin": {"Authorization": admin_api.client.headers["Authorization"]},
        "officer": {"Authorization": as_command.client.headers["Authorization"]},
        "itself": {"Authorization": as_itself.client.headers["Authorization"]},
        "officer_id": command["id"],
        "device": {"Authorization": f"Bearer {device['token']}"},
    }
    print(f"\nfuzzed: {sum(tried.values())} requests over {len(tried)} operations and roles")


def _changes_existing(case) -> bool:
    return (
        case.method in ("PATCH", "PUT", "DELETE")
        or (case.method == "POST" and "{" in case.path)
        or (case.path == "/api/v1/dlq/replay")
    )


def _call(case, http, base_url: str, headers: dict, role: str) -> None:
    tried[(case.operation.label, role)] += 1
    response = case.call(base_url=base_url, session=http, headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS)


@portal.parametrize()
@examples
def test_portal_operations(case, http, portal_url, fuzzers):
    if (case.method, case.path) in STREAMS:
        return
    if (case.method, case.path) in SESSION_ENDERS:
        _call(case, http, portal_url, fuzzers["itself"], "itself")
        return
    if not _changes_existing(case):
        _call(case, http, portal_url, fuzzers["admin"], "admin")
    if case.path_parameters and case.path_parameters.get("officer_id") == fuzzers["officer_id"]:
        return  # its own account: see the module's docstring
    _call(case, http, portal_url, fuzzers["officer"], "officer")


@ingest.parametrize()
@examples
def test_ingest_operations(case, http, ingest_url, fuzzers):
    headers = fuzzers["device"] if case.path == "/api/v1/fixes" else {}
    _call(case, http, ingest_url, headers, "device")
