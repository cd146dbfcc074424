"""Zones: validation of geometry, CRUD with caseload scoping, and what the engine loads."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from sqlalchemy import delete as delete_rows
from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from caseload import monitoring as caseload_monitoring
from caseload import scope as caseload_scope
from caseload import service as caseload_service
from caseload.models import Officer
from core.db import delete_in_batches
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import Role
from core.timezones import utcnow
from core.wire import AlertLevel
from geofence import schemas
from geofence.models import NOISE_FIELDS, GeofenceState, PhoneNoise, Zone, ZoneKind

DISTRICT_ZONE_EDITORS = frozenset({Role.supervisor, Role.command, Role.admin})


def parse_geometry(geojson: dict) -> MultiPolygon:
    """A valid WGS-84 (Multi)Polygon from GeoJSON, or Invalid with the reason."""
    try:
        geom = shape(geojson)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise Invalid(f"geometry is not GeoJSON: {exc}") from exc
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise Invalid(f"geometry must be a Polygon or MultiPolygon, not {geom.geom_type}")
    if geom.is_empty:
        raise Invalid("geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise Invalid("coordinates must be longitude, latitude in WGS-84 (lon within ±180, lat within ±90)")
    if not geom.is_valid:
        raise Invalid(f"invalid polygon: {shapely.is_valid_reason(geom)}")
    return geom


def to_out(zone: Zone) -> schemas.ZoneOut:
    return schemas.ZoneOut(
        id=zone.id,
        name=zone.name,
        kind=zone.kind,
        supervisee_id=zone.supervisee_id,
        district_id=zone.district_id,
        geometry=mapping(to_shape(zone.geom)),
        buffer_m=zone.buffer_m,
        valid_from=zone.valid_from,
        valid_to=zone.valid_to,
        severity=zone.severity,
        schedule=zone.schedule,
        priority=zone.priority,
        travel_leave=zone.travel_leave,
        returned_at=zone.returned_at,
        returned_by=zone.returned_by,
        active=zone.active,
        updated_at=zone.updated_at,
    )


def _check_owner(session: Session, viewer: Officer, *, supervisee_id: int | None, district_id: int | None) -> None:
    if supervisee_id is not None:
        caseload_service.get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
        return
    if viewer.role not in DISTRICT_ZONE_EDITORS:
        raise Forbidden("district-wide zones are edited by supervisors, command staff or admins")
    caseload_service.get_district(session=session, viewer=viewer, district_id=district_id)


def _visible(session: Session, viewer: Officer):
    districts = caseload_scope.visible_district_ids(session=session, viewer=viewer)
    people = caseload_scope.visible_supervisee_ids(session=session, viewer=viewer)
    by_district = Zone.district_id.in_(districts) if districts is not None else Zone.district_id.is_not(None)
    return or_(Zone.supervisee_id.in_(people), by_district)


def list_zones(
    *,
    session: Session,
    viewer: Officer,
    supervisee_id: int | None = None,
    district_id: int | None = None,
    kind: ZoneKind | None = None,
    active: bool | None = True,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Zone]:
    """The zones the viewer may see: of one person, or of one district (its own and its people's)."""
    query = select(Zone).where(_visible(session, viewer))
    if supervisee_id is not None:
        query = query.where(Zone.supervisee_id == supervisee_id)
    if district_id is not None:
        people = caseload_service.supervisees_in_districts(session=session, district_ids=[district_id])
        query = query.where(or_(Zone.district_id == district_id, Zone.supervisee_id.in_(people.get(district_id, []))))
    if kind is not None:
        query = query.where(Zone.kind == kind)
    if active is not None:
        query = query.where(Zone.active == active)
    return session.scalars(query.order_by(Zone.id).limit(limit).offset(offset)).all()


def get(*, session: Session, viewer: Officer, zone_id: int) -> Zone:
    zone = session.scalar(select(Zone).where(Zone.id == zone_id, _visible(session, viewer)))
    if zone is None:
        raise NotFound(f"zone {zone_id} not found")
    return zone


def _check_leave_approver(viewer: Officer) -> None:
    # A travel leave lets the person be away: it is granted by a supervisor, never by the officer alone.
    if viewer.role not in DISTRICT_ZONE_EDITORS:
        raise Forbidden("travel leave is approved by a supervisor: request it with POST /api/v1/leaves")


def create(*, session: Session, viewer: Officer, data: schemas.ZoneIn) -> Zone:
    geom = parse_geometry(data.geometry)
    _check_owner(session, viewer, supervisee_id=data.supervisee_id, district_id=data.district_id)
    if data.travel_leave:
        _check_leave_approver(viewer)
    zone = Zone(**data.model_dump(exclude={"geometry"}), geom=from_shape(geom, srid=4326))
    session.add(zone)
    session.flush()
    session.refresh(zone)
    caseload_service.record(session, viewer, "zone.create", zone.id, data.model_dump(mode="json"))
    return zone


def update(*, session: Session, viewer: Officer, zone_id: int, data: schemas.ZoneUpdate) -> Zone:
    zone = get(session=session, viewer=viewer, zone_id=zone_id)
    _check_owner(session, viewer, supervisee_id=zone.supervisee_id, district_id=zone.district_id)
    if zone.travel_leave:
        _check_leave_approver(viewer)
    changes = data.model_dump(exclude_unset=True)
    if (geometry := changes.pop("geometry", None)) is not None:
        zone.geom = from_shape(parse_geometry(geometry), srid=4326)
    for key, value in changes.items():
        setattr(zone, key, value)
    if zone.valid_from and zone.valid_to and zone.valid_to <= zone.valid_from:
        raise Invalid("valid_to must be after valid_from")
    session.flush()
    session.refresh(zone)
    caseload_service.record(session, viewer, "zone.update", zone.id, data.model_dump(mode="json", exclude_unset=True))
    return zone


def record_return(*, session: Session, viewer: Officer, zone_id: int) -> Zone:
    """销假: the person is back from travel leave, which ends now instead of at its valid_to."""
    zone = get(session=session, viewer=viewer, zone_id=zone_id)
    _check_owner(session, viewer, supervisee_id=zone.supervisee_id, district_id=zone.district_id)
    if not zone.travel_leave:
        raise Invalid(f"zone {zone_id} is not a travel leave; only a leave has a return")
    if zone.returned_at is not None:
        raise Conflict(f"the return from leave {zone_id} was already recorded at {zone.returned_at.isoformat()}")
    zone.returned_at = utcnow()
    zone.returned_by = viewer.id
    session.flush()
    session.refresh(zone)
    caseload_service.record(
        session, viewer, "zone.leave_return", zone.id, {"returned_at": zone.returned_at.isoformat()}
    )
    return zone


def delete(*, session: Session, viewer: Officer, zone_id: int) -> None:
    """Zones are deactivated, not erased: past alerts still point at them."""
    zone = get(session=session, viewer=viewer, zone_id=zone_id)
    _check_owner(session, viewer, supervisee_id=zone.supervisee_id, district_id=zone.district_id)
    zone.active = False
    session.flush()
    caseload_service.record(session, viewer, "zone.deactivate", zone_id)


@dataclass(frozen=True)
class RuleZone:
    """A zone as the engine sees it: whom it binds (one person, or everyone in a district) and when."""

    id: int
    kind: ZoneKind
    supervisee_ids: tuple[int, ...]
    geometry: MultiPolygon
    buffer_m: float = 0.0
    severity: AlertLevel = AlertLevel.yellow
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    schedule: dict | None = None
    priority: int = 0
    travel_leave: bool = False
    version: datetime | None = None  # when it last changed: the engine recompiles only what did


def zones_version(*, session: Session) -> tuple:
    """Changes whenever any zone is added or changed, people move between districts, or a monitoring
    period is approved, renewed or released, so the engine knows to reload."""
    zones = tuple(session.execute(select(func.count(), func.max(Zone.updated_at))).one())
    return (
        zones
        + caseload_service.membership_version(session=session)
        + caseload_monitoring.periods_version(session=session)
    )


def monitoring_windows(*, session: Session) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each person's approved monitoring windows: fixes outside them are not judged."""
    return caseload_monitoring.windows(session=session)


def load_rule_zones(*, session: Session) -> list[RuleZone]:
    """Every active inclusion/exclusion zone, personal or district-wide, with whom it binds."""
    rows = session.scalars(select(Zone).where(Zone.active, Zone.kind != ZoneKind.poi)).all()
    members = caseload_service.supervisees_in_districts(
        session=session, district_ids=sorted({z.district_id for z in rows if z.district_id is not None})
    )
    return [
        RuleZone(
            id=z.id,
            kind=z.kind,
            supervisee_ids=(z.supervisee_id,) if z.supervisee_id is not None else tuple(members[z.district_id]),
            geometry=to_shape(z.geom),
            buffer_m=z.buffer_m,
            severity=z.severity,
            valid_from=z.valid_from,
            # The return from travel leave (销假) ends it early.
            valid_to=min((t for t in (z.valid_to, z.returned_at) if t is not None), default=None),
            schedule=z.schedule,
            priority=z.priority,
            travel_leave=z.travel_leave,
            version=z.updated_at,
        )
        for z in rows
    ]


@dataclass(frozen=True)
class SavedStates:
    """The snapshots of some people: live tracks' states, and the fix time quiet tracks reached."""

    active: dict[tuple[int, int], dict]
    quiet: dict[tuple[int, int], int]


def load_states(
    *, session: Session, partitions: Collection[int] | None = None, partition_count: int = 1
) -> SavedStates:
    """The engine's last snapshots, (supervisee, zone) → state: of everyone, or of the people whose
    fixes land on these partitions (supervisee id mod ``partition_count``)."""
    query = select(GeofenceState.supervisee_id, GeofenceState.zone_id, GeofenceState.active, GeofenceState.state)
    if partitions is not None:
        query = query.where((GeofenceState.supervisee_id % partition_count).in_(sorted(partitions)))
    active, quiet = {}, {}
    for person, zone, is_active, state in session.execute(query):
        if is_active:
            active[(person, zone)] = state
        else:
            quiet[(person, zone)] = state["last_us"]
    return SavedStates(active, quiet)


def save_states(*, session: Session, changed: dict[tuple[int, int], dict], dropped: dict[tuple[int, int], int]) -> int:
    """Snapshot the tracks that changed and leave tombstones for the dropped ones (key → the fix
    time they reached), in the caller's transaction. A row already saved with a later fix time
    stays: another worker owns the person now. Returns how many were refused for that."""
    rows = [
        {"supervisee_id": person, "zone_id": zone, "last_fix_us": state["last_us"], "state": state, "active": True}
        for (person, zone), state in changed.items()
    ] + [
        {"supervisee_id": person, "zone_id": zone, "last_fix_us": at_us, "state": {"last_us": at_us}, "active": False}
        for (person, zone), at_us in dropped.items()
        if (person, zone) not in changed
    ]
    if not rows:
        return 0
    # In key order, so that two workers' overlapping writes cannot deadlock.
    rows.sort(key=lambda row: (row["supervisee_id"], row["zone_id"]))
    statement = insert(GeofenceState).values(rows)
    written = session.execute(
        statement.on_conflict_do_update(
            index_elements=[GeofenceState.supervisee_id, GeofenceState.zone_id],
            set_={
                "last_fix_us": statement.excluded.last_fix_us,
                "state": statement.excluded.state,
                "active": statement.excluded.active,
                "updated_at": func.now(),
            },
            # Equal versions are written: a replay, or a track ended without a fix of its own.
            where=GeofenceState.last_fix_us <= statement.excluded.last_fix_us,
        ).returning(GeofenceState.supervisee_id)
    )
    return len(rows) - len(written.all())


def load_noise(
    *, session: Session, partitions: Collection[int] | None = None, partition_count: int = 1
) -> dict[str, np.ndarray]:
    """What was learned of the phones' scatter: everyone's, or that of these partitions' people."""
    columns = [PhoneNoise.supervisee_id, *(getattr(PhoneNoise, name) for name in NOISE_FIELDS)]
    query = select(*columns)
    if partitions is not None:
        query = query.where((PhoneNoise.supervisee_id % partition_count).in_(sorted(partitions)))
    rows = session.execute(query).all()
    names = ["supervisee_id", *NOISE_FIELDS]
    integral = {"supervisee_id", "last_us", "pairs"}
    return {
        name: np.array([row[i] for row in rows], dtype=np.int64 if name in integral else float)
        for i, name in enumerate(names)
    }


def save_noise(*, session: Session, learned: dict[str, np.ndarray]) -> None:
    """Snapshot what was learned of these phones, in the caller's transaction; a later one stays."""
    if not len(learned["supervisee_id"]):
        return
    names = ["supervisee_id", *NOISE_FIELDS]
    types = {"supervisee_id": "int", "last_us": "bigint", "pairs": "bigint"}
    # One statement over arrays, whatever the batch's number of people (thousands per batch).
    arrays = ", ".join(f"CAST(:{n} AS {types.get(n, 'float8')}[])" for n in names)
    updates = ", ".join(f"{n} = excluded.{n}" for n in NOISE_FIELDS)
    session.execute(
        text(
            f"INSERT INTO geofence_noise ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT (supervisee_id) DO UPDATE SET {updates} WHERE geofence_noise.last_us <= excluded.last_us"
        ),
        {name: learned[name].tolist() for name in names},
    )


def purge_tombstones(*, session: Session, older_than_s: float) -> int:
    """Delete the quiet tracks' rows not written for this long: no late batch is that late."""
    result = session.execute(
        delete_rows(GeofenceState).where(
            GeofenceState.active.is_(False),
            GeofenceState.updated_at < func.now() - timedelta(seconds=older_than_s),
        )
    )
    return result.rowcount


def purge_expired(*, session: Session, retention_days: int, batch_rows: int) -> int:
    """Retention: the snapshots of people with no fix within the fix retention go (their tracks hold
    running sums of positions, their noise rows the last position), in committed batches; returns how many."""
    params = {"cutoff_us": int((utcnow() - timedelta(days=retention_days)).timestamp() * 1_000_000)}
    return delete_in_batches(
        session, table="geofence_state", where="last_fix_us < :cutoff_us", params=params, batch_rows=batch_rows
    ) + delete_in_batches(
        session, table="geofence_noise", where="last_us < :cutoff_us", params=params, batch_rows=batch_rows
    )
