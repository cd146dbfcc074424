"""The first admin account, and demo data: a district, its staff and supervisees with home zones
and devices, through the same services the API uses."""

import json
import math
import random
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseload import schemas as caseload_schemas
from caseload import service as caseload_service
from caseload.models import Category, District, DistrictLevel, Officer, RiskLevel
from core.security import Role, hash_password
from geofence import schemas as geofence_schemas
from geofence import service as geofence_service

ADMIN_USERNAME = "admin"
ROOT_DISTRICT_CODE = "root"
DEMO_CITY = ("210500", "本溪市 Benxi")
DEMO_COUNTY = ("210502", "平山区 Pingshan")
DEMO_CENTRE = (41.295, 123.765)  # lat, lon
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def ensure_admin(session: Session, password: str) -> Officer:
    """The bootstrap admin (created once, in a root district); later changes go through the API."""
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
    )
    session.add(admin)
    session.flush()
    return admin


def _circle(lat: float, lon: float, radius_m: float, sides: int = 32) -> dict:
    dlat = radius_m / 111_195
    dlon = dlat / math.cos(math.radians(lat))
    ring = [
        [lon + dlon * math.cos(2 * math.pi * k / sides), lat + dlat * math.sin(2 * math.pi * k / sides)]
        for k in range(sides)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def seed_demo(
    session: Session, *, admin: Officer, supervisees: int, staff_password: str, fleet_file: Path, seed: int = 7
) -> list[dict]:
    """Create the demo district once; returns the fleet (device tokens are written to ``fleet_file``)."""
    if session.scalar(select(District).where(District.code == DEMO_CITY[0])) is not None:
        return json.loads(fleet_file.read_text()) if fleet_file.exists() else []
    rng = random.Random(seed)
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

    def officer(username: str, name: str, role: Role, supervisor: Officer | None = None) -> Officer:
        return caseload_service.create_officer(
            session=session,
            viewer=admin,
            data=caseload_schemas.OfficerIn(
                username=username,
                full_name=name,
                password=staff_password,
                role=role,
                district_id=county.id,
                supervisor_id=supervisor.id if supervisor else None,
            ),
        )

    officer("command1", "指挥中心 Command desk", Role.command)
    officer("auditor1", "审计员 Auditor", Role.auditor)
    chief = officer("supervisor1", "所长 Station chief", Role.supervisor)
    officers = [officer(f"officer{n}", f"矫正干警{n} Officer {n}", Role.officer, chief) for n in (1, 2)]
    fleet = []
    for n in range(supervisees):
        lat = DEMO_CENTRE[0] + rng.uniform(-0.04, 0.04)
        lon = DEMO_CENTRE[1] + rng.uniform(-0.06, 0.06)
        radius = rng.choice([800, 1200, 1500, 2000])
        person = caseload_service.create_supervisee(
            session=session,
            viewer=admin,
            data=caseload_schemas.SuperviseeIn(
                code=f"BX{n + 1:05d}",
                full_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                category=rng.choice(list(Category)),
                risk_level=rng.choice(list(RiskLevel)),
                district_id=county.id,
                officer_id=officers[n % len(officers)].id,
                supervision_start=date(2026, 1, 1),
            ),
        )
        geofence_service.create(
            session=session,
            viewer=admin,
            data=geofence_schemas.ZoneIn(
                name=f"{person.full_name} 居住地 home area",
                kind="inclusion",
                supervisee_id=person.id,
                geometry=_circle(lat, lon, radius),
                buffer_m=50,
            ),
        )
        device, token = caseload_service.create_device(
            session=session, viewer=admin, supervisee_id=person.id, data=caseload_schemas.DeviceIn()
        )
        fleet.append(
            {
                "supervisee_id": person.id,
                "external_id": device.external_id,
                "token": token,
                "home": [lat, lon],
                "radius_m": radius,
            }
        )
    fleet_file.parent.mkdir(parents=True, exist_ok=True)
    fleet_file.write_text(json.dumps(fleet))
    fleet_file.chmod(0o600)
    return fleet
