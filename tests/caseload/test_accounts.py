"""Accounts and sessions through the real portal: role ceilings, the password change someone else's
password demands, token revocation, sign-in throttling and its audit trail."""

import itertools
import json
import uuid

import httpx
import pytest
from sqlalchemy import text

from caseload import accounts
from core import security
from tests.factories import STAFF_PASSWORD, Api, signed_in_as, unique

# Each test signs in from addresses of its own (uvicorn believes X-Forwarded-For from 127.0.0.1, as
# behind a local reverse proxy), so tripping an address's limit blocks nobody else's sign-in.
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def sign_in(portal_url: str, username: str, password: str, address: str) -> httpx.Response:
    return httpx.post(
        f"{portal_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def audit_entries(db, action: str, entity_id: object = None, **detail) -> list[dict]:
    db.rollback()  # a fresh snapshot
    rows = db.execute(
        text(
            "SELECT entity_id, actor, detail FROM audit_log WHERE action = :a AND detail @> CAST(:d AS jsonb)"
            " AND (CAST(:e AS text) IS NULL OR entity_id = :e)"
        ),
        {"a": action, "d": json.dumps(detail), "e": None if entity_id is None else str(entity_id)},
    )
    return [dict(r._mapping) for r in rows]


@pytest.fixture(scope="module")
def district(admin_api):
    return admin_api.district()


def test_command_cannot_touch_admin_or_command_accounts_nor_raise_anyone(admin_api, portal_url):
    admin = admin_api.call("GET", "/auth/me")
    # A command desk at the top sees every account, the admin's included.
    command = signed_in_as(portal_url, admin_api.officer(admin["district_id"], role="command"))
    district = admin_api.district(parent_id=admin["district_id"])
    peer = admin_api.officer(district["id"], role="command")
    for target in (admin["id"], peer["id"]):
        for change in ({"password": "x" * 12}, {"active": False}, {"full_name": "x"}):
            refused = command.call("PATCH", f"/officers/{target}", expect=403, json=change)["detail"]
            assert "ask an admin" in refused
    body = {"username": unique("c"), "full_name": "x", "password": STAFF_PASSWORD, "district_id": district["id"]}
    for role in ("command", "admin"):
        command.call("POST", "/officers", expect=403, json=body | {"role": role})
    chief = command.call("POST", "/officers", expect=201, json=body | {"role": "supervisor"})
    assert chief["must_change_password"] is True
    command.call("PATCH", f"/officers/{chief['id']}", expect=403, json={"role": "command"})
    waived = body | {"username": unique("c"), "role": "officer", "must_change_password": False}
    assert "only an admin" in command.call("POST", "/officers", expect=403, json=waived)["detail"]


def test_the_last_admin_cannot_be_switched_off_or_demoted(admin_api, district):
    me = admin_api.call("GET", "/auth/me")
    # Other tests make admins too: switch them off first, so that this one is the last.
    for other in admin_api.call("GET", "/officers", params={"limit": 5000}):
        if other["role"] == "admin" and other["active"] and other["id"] != me["id"]:
            admin_api.call("PATCH", f"/officers/{other['id']}", json={"active": False})
    for change in ({"active": False}, {"role": "command"}):
        refused = admin_api.call("PATCH", f"/officers/{me['id']}", expect=409, json=change)
        assert "last active admin" in refused["detail"]
    second = admin_api.officer(district["id"], role="admin")
    admin_api.call("PATCH", f"/officers/{second['id']}", json={"active": False})


def test_a_password_someone_else_set_must_be_changed_first(admin_api, portal_url, district, db):
    officer = admin_api.officer(district["id"], keep_password=False)
    address = next(_addresses)
    first = sign_in(portal_url, officer["username"], STAFF_PASSWORD, address).json()
    assert first["must_change_password"] is True
    refused = httpx.get(f"{portal_url}/api/v1/supervisees", headers=bearer(first["access_token"]))
    assert refused.status_code == 403 and "/api/v1/auth/password" in refused.json()["detail"]

    api = Api(httpx.Client(base_url=portal_url, headers=bearer(first["access_token"])))
    api.call("POST", "/auth/password", 403, json={"current_password": "wrong", "new_password": "y" * 12})
    api.call("POST", "/auth/password", 422, json={"current_password": STAFF_PASSWORD, "new_password": STAFF_PASSWORD})
    mine = "my-own-password-" + uuid.uuid4().hex[:6]
    changed = api.call("POST", "/auth/password", json={"current_password": STAFF_PASSWORD, "new_password": mine})
    assert changed["must_change_password"] is False
    api.call("GET", "/supervisees", 401)  # the token from before the change is revoked
    api.client.headers.update(bearer(changed["access_token"]))
    api.call("GET", "/supervisees")

    # A reset by an admin: the officer's sessions end, and the new password is again temporary.
    admin_api.call("PATCH", f"/officers/{officer['id']}", json={"password": "reset-by-admin-1"})
    api.call("GET", "/supervisees", 401)
    again = sign_in(portal_url, officer["username"], "reset-by-admin-1", address).json()
    assert again["must_change_password"] is True
    assert audit_entries(db, "auth.password_change", officer["id"], tokens_revoked=True)
    assert audit_entries(db, "officer.update", officer["id"], password_changed=True, tokens_revoked=True)


def test_sign_out_and_deactivation_revoke_every_token(admin_api, portal_url, district, db):
    officer = admin_api.officer(district["id"])
    address = next(_addresses)
    phone, desk = (sign_in(portal_url, officer["username"], STAFF_PASSWORD, address).json() for _ in range(2))
    assert httpx.post(f"{portal_url}/api/v1/auth/logout", headers=bearer(phone["access_token"])).status_code == 204
    for token in (phone, desk):
        answer = httpx.get(f"{portal_url}/api/v1/auth/me", headers=bearer(token["access_token"]))
        assert answer.status_code == 401 and "session has ended" in answer.json()["detail"]

    later = sign_in(portal_url, officer["username"], STAFF_PASSWORD, address).json()
    admin_api.call("PATCH", f"/officers/{officer['id']}", json={"active": False})
    admin_api.call("PATCH", f"/officers/{officer['id']}", json={"active": True})
    assert httpx.get(f"{portal_url}/api/v1/auth/me", headers=bearer(later["access_token"])).status_code == 401
    [signed_out] = audit_entries(db, "auth.sign_out", officer["id"], tokens_revoked=True)
    assert signed_out["actor"] == f"officer:{officer['id']}"
    assert audit_entries(db, "officer.update", officer["id"], active=False, tokens_revoked=True)


def test_failed_sign_ins_lock_the_account_then_the_address(admin_api, portal_url, district, db, settings):
    alice, bob = admin_api.officer(district["id"]), admin_api.officer(district["id"])
    address = next(_addresses)
    for _ in range(settings.sign_in_max_failures):
        assert sign_in(portal_url, alice["username"], "guess-" + uuid.uuid4().hex, address).status_code == 401
    locked = sign_in(portal_url, alice["username"], STAFF_PASSWORD, next(_addresses))
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in locked.json()["detail"]
    assert sign_in(portal_url, bob["username"], STAFF_PASSWORD, address).status_code == 200

    # A guesser spreading over many usernames is stopped by the address's own limit.
    spray = next(_addresses)
    for n in range(settings.sign_in_address_max_failures):
        assert sign_in(portal_url, f"nobody{n}x{uuid.uuid4().hex[:4]}", "guess", spray).status_code == 401
    assert sign_in(portal_url, bob["username"], STAFF_PASSWORD, spray).status_code == 429
    assert sign_in(portal_url, bob["username"], STAFF_PASSWORD, next(_addresses)).status_code == 200

    failed = audit_entries(db, "auth.sign_in_failed", username=alice["username"], address=address)
    assert [e["detail"]["reason"] for e in failed] == ["wrong_password"] * settings.sign_in_max_failures
    assert audit_entries(db, "auth.sign_in_failed", username=alice["username"], reason="throttled")
    sprayed = audit_entries(db, "auth.sign_in_failed", address=spray, reason="unknown_user")
    assert len(sprayed) == settings.sign_in_address_max_failures
    assert audit_entries(db, "auth.sign_in", address=address)


def test_an_unknown_username_costs_a_password_check_too(db, monkeypatch):
    checked = []
    hasher = security._hasher

    class Counting:
        def hash(self, password: str) -> str:
            return hasher.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            checked.append(password_hash)
            return hasher.verify(password_hash, password)

    monkeypatch.setattr(security, "_hasher", Counting())
    with pytest.raises(accounts.WrongCredentials):
        accounts.sign_in(session=db, username=unique("ghost"), password="whatever", source=accounts.Source("192.0.2.1"))
    assert len(checked) == 1 and checked[0].startswith("$argon2")
