"""No shared passwords: demo staff each get their own, to be changed at first sign-in; ``./ewall passwd``
resets one account; files holding passwords are private from the moment they exist."""

import os
import stat

import httpx
from sqlalchemy import select

from caseload.models import Officer
from ops import cli, embedded, seed
from tests.factories import STAFF_PASSWORD


def test_demo_staff_get_passwords_of_their_own_to_change_at_first_sign_in(db):
    admin = seed.ensure_admin(db, "unused: the admin exists")
    _, passwords = seed.seed_demo(db, admin=admin)
    assert len(set(passwords.values())) == len(passwords) == 6
    assert seed.reset_demo_staff(db, actor="test", just_created=passwords) == {}
    staff = {o.username: o for o in db.scalars(select(Officer).where(Officer.username.in_(passwords)))}
    assert {u for u, o in staff.items() if not o.must_change_password} == {seed.SIMULATOR_USERNAME}
    assert seed.seed_demo(db, admin=admin)[1] == {}  # once only

    # An install from before: the simulator had no account, the staff shared the admin's password.
    db.delete(staff[seed.SIMULATOR_USERNAME])
    db.flush()
    assert set(seed.seed_demo(db, admin=admin)[1]) == {seed.SIMULATOR_USERNAME}
    renewed = seed.reset_demo_staff(db, actor="test")
    assert set(renewed) == set(seed.DEMO_STAFF) and not set(renewed.values()) & set(passwords.values())
    assert all(staff[u].must_change_password for u in seed.DEMO_STAFF)


def test_passwd_resets_one_account(admin_api, portal_url, capsys):
    officer = admin_api.officer(admin_api.district()["id"])
    assert cli.main(["passwd", officer["username"]]) == 0
    password = capsys.readouterr().out.split(" / ")[1].split()[0]
    headers = {"X-Forwarded-For": "203.0.113.9"}
    token = f"{portal_url}/api/v1/auth/token"
    old = httpx.post(token, data={"username": officer["username"], "password": STAFF_PASSWORD}, headers=headers)
    assert old.status_code == 401
    new = httpx.post(token, data={"username": officer["username"], "password": password}, headers=headers)
    assert new.status_code == 200 and new.json()["must_change_password"] is True
    assert cli.main(["passwd", "nobody-by-this-name"]) == 1


def test_password_files_are_private_from_the_start(tmp_path):
    path = tmp_path / "accounts.env"
    path.write_text("old")
    path.chmod(0o644)
    previous = os.umask(0)
    try:
        embedded._write_private(path, "admin=secret\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "admin=secret\n"
