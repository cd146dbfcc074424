"""The first admin account, and the demo county with its staff, through the same services the API uses
(the simulator registers the demo supervisees, their phones and zones through the portal API).

Every seeded person's account has its own generated password, which they must change at first sign-in;
the simulator's machine account keeps its own (nobody signs in with it by hand)."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseload import accounts
from caseload import schemas as caseload_schemas
from caseload import service as caseload_service
from caseload.models import District, DistrictLevel, Officer
from core.security import Role, hash_password, new_password

ADMIN_USERNAME = "admin"
SIMULATOR_USERNAME = "simulator"
SIMULATOR_NAME = "模拟器 Demo fleet simulator"
DEMO_STAFF = ("command1", "auditor1", "supervisor1", "officer1", "officer2")
ROOT_DISTRICT_CODE = "root"
DEMO_CITY = ("210500", "本溪市 Benxi")
DEMO_COUNTY = ("210502", "平山区 Pingshan")


def ensure_admin(session: Session, password: str, *, must_change_password: bool = True) -> Officer:
    """The bootstrap admin (created once, in a root district); later changes go through the API. Test
    suites and benchmarks, which choose the password themselves, skip the change at first sign-in."""
    admin = session.scalar(select(Officer).where(Officer.username == ADMIN_USERNAME))
    if admin is not None:
        return admin
    root = session.scalar(select(District).where(District.code == ROOT_DISTRICT_CODE))
    if root is None:
        root = District(code=ROOT_DISTRICT_CODE, name="全部辖区 All districts", level=DistrictLevel.province)
        session.add(root)
        session.flush()
    admin = Officer(
        username=ADMIN_USERNAME,
        full_name="系统管理员 Administrator",
        password_hash=hash_password(password),
        role=Role.admin,
        district_id=root.id,
        must_change_password=must_change_password,
    )
    session.add(admin)
    session.flush()
    return admin


def seed_demo(session: Session, *, admin: Officer) -> tuple[District, dict[str, str]]:
    """Create the demo county and its staff once; the simulator registers its supervisees there.
    Returns the county and the generated password of each account created now, by username."""
    passwords: dict[str, str] = {}
    county = session.scalar(select(District).where(District.code == DEMO_COUNTY[0]))
    if county is not None:
        # A demo county seeded before the simulator had an account of its own.
        if session.scalar(select(Officer.id).where(Officer.username == SIMULATOR_USERNAME)) is None:
            _staff(session, admin, county, passwords, SIMULATOR_USERNAME, SIMULATOR_NAME, Role.command, person=False)
        return county, passwords
    root = session.get(District, admin.district_id)
    city = caseload_service.create_district(
        session=session,
        viewer=admin,
        data=caseload_schemas.DistrictIn(
            code=DEMO_CITY[0], name=DEMO_CITY[1], level=DistrictLevel.city, parent_id=root.id
        ),
    )
    county = caseload_service.create_district(
        session=session,
        viewer=admin,
        data=caseload_schemas.DistrictIn(
            code=DEMO_COUNTY[0], name=DEMO_COUNTY[1], level=DistrictLevel.county, parent_id=city.id
        ),
    )
    _staff(session, admin, county, passwords, SIMULATOR_USERNAME, SIMULATOR_NAME, Role.command, person=False)
    _staff(session, admin, county, passwords, "command1", "指挥中心 Command desk", Role.command)
    _staff(session, admin, county, passwords, "auditor1", "审计员 Auditor", Role.auditor)
    chief = _staff(session, admin, county, passwords, "supervisor1", "所长 Station chief", Role.supervisor)
    for n in (1, 2):
        _staff(session, admin, county, passwords, f"officer{n}", f"矫正干警{n} Officer {n}", Role.officer, chief)
    return county, passwords


def _staff(
    session: Session,
    admin: Officer,
    county: District,
    passwords: dict[str, str],
    username: str,
    name: str,
    role: Role,
    supervisor: Officer | None = None,
    *,
    person: bool = True,
) -> Officer:
    passwords[username] = new_password()
    return caseload_service.create_officer(
        session=session,
        viewer=admin,
        data=caseload_schemas.OfficerIn(
            username=username,
            full_name=name,
            password=passwords[username],
            role=role,
            district_id=county.id,
            supervisor_id=supervisor.id if supervisor else None,
            must_change_password=person,
        ),
    )


def reset_demo_staff(session: Session, *, actor: str, just_created: Collection[str] = ()) -> dict[str, str]:
    """New generated passwords (to be changed at first sign-in) for the demo staff of an install from
    before each had their own: they shared the admin's. Accounts just created keep theirs."""
    wanted = set(DEMO_STAFF) - set(just_created)
    people = session.scalars(select(Officer.username).where(Officer.username.in_(wanted))).all()
    return {u: accounts.reset_password(session=session, username=u, actor=actor) for u in people}
