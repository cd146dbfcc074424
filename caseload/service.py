"""Caseload rules: who exists, who supervises whom, who may change what, and the lookups other domains
need about people and officers. Who may see whom is in caseload.scope."""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Row, func, literal, or_, select
from sqlalchemy.orm import Session

from caseload import accounts, schemas
from caseload.models import Device, District, Gateway, Officer, RiskLevel, Supervisee
from caseload.scope import (
    district_subtree,
    get_in_visible_district,
    in_visible_districts,
    require_district_visible,
    supervisee_scope,
)
from core import audit
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import (
    Role,
    device_key_hint,
    hash_device_token,
    hash_password,
    new_device_key,
    new_device_token,
)

MANAGERS = frozenset({Role.officer, Role.supervisor, Role.command, Role.admin})


def actor(officer: Officer) -> str:
    return f"officer:{officer.id}"


def record(
    session: Session,
    viewer: Officer,
    action: str,
    entity_id: object,
    detail: dict | None = None,
    district_id: int | None = None,
) -> None:
    """Audit an officer's action; the entity is the action's first word ("zone.update" → zone). The
    entry belongs to ``district_id`` (default: the officer's own) for the auditors' scope."""
    audit.append(
        session,
        actor=actor(viewer),
        action=action,
        entity=action.split(".", 1)[0],
        entity_id=entity_id,
        detail=detail,
        district_id=district_id if district_id is not None else viewer.district_id,
    )


# Accounts -----------------------------------------------------------------------------------------


def get_active_officer(*, session: Session, officer_id: int) -> Officer | None:
    officer = session.get(Officer, officer_id)
    return officer if officer is not None and officer.active else None


def _require_manager(viewer: Officer) -> None:
    if viewer.role not in MANAGERS:
        raise Forbidden(f"role '{viewer.role}' is read-only")


# Districts ----------------------------------------------------------------------------------------


def list_districts(
    *, session: Session, viewer: Officer, limit: int | None = None, offset: int = 0
) -> Sequence[District]:
    query = in_visible_districts(session, viewer, select(District).order_by(District.id), District.id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def get_district(*, session: Session, viewer: Officer, district_id: int) -> District:
    return require_district_visible(session, viewer, district_id)


def create_district(*, session: Session, viewer: Officer, data: schemas.DistrictIn) -> District:
    if data.parent_id is not None and session.get(District, data.parent_id) is None:
        raise Invalid(f"parent district {data.parent_id} does not exist")
    if session.scalar(select(District.id).where(District.code == data.code)):
        raise Conflict(f"a district with code '{data.code}' already exists")
    district = District(**data.model_dump())
    session.add(district)
    session.flush()
    record(session, viewer, "district.create", district.id, data.model_dump(mode="json"))
    return district


def update_district(*, session: Session, viewer: Officer, district_id: int, data: schemas.DistrictUpdate) -> District:
    district = require_district_visible(session, viewer, district_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(district, key, value)
    session.flush()
    record(session, viewer, "district.update", district.id, changes)
    return district


def delete_district(*, session: Session, viewer: Officer, district_id: int) -> None:
    district = require_district_visible(session, viewer, district_id)
    in_use = (
        session.scalar(select(District.id).where(District.parent_id == district_id).limit(1))
        or session.scalar(select(Officer.id).where(Officer.district_id == district_id).limit(1))
        or session.scalar(select(Supervisee.id).where(Supervisee.district_id == district_id).limit(1))
    )
    if in_use:
        raise Conflict("the district still has sub-districts, officers or supervisees; move them first")
    session.delete(district)
    record(session, viewer, "district.delete", district_id)
    session.flush()


# Officers -----------------------------------------------------------------------------------------


def list_officers(*, session: Session, viewer: Officer, limit: int | None = None, offset: int = 0) -> Sequence[Officer]:
    query = in_visible_districts(session, viewer, select(Officer).order_by(Officer.id), Officer.district_id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def get_officer(*, session: Session, viewer: Officer, officer_id: int) -> Officer:
    return get_in_visible_district(session, viewer, Officer, officer_id)


# Below an admin, staff manage only accounts ranked below their own, and grant only such roles.
_ROLE_RANK = {Role.officer: 1, Role.auditor: 1, Role.supervisor: 2, Role.command: 3, Role.admin: 4}


def _check_ceiling(viewer: Officer, role: Role, what: str) -> None:
    if viewer.role != Role.admin and _ROLE_RANK[role] >= _ROLE_RANK[viewer.role]:
        raise Forbidden(f"a {viewer.role} account cannot {what} a {role} account; ask an admin")


def _check_waiver(viewer: Officer, must_change_password: bool | None) -> None:
    if must_change_password is False and viewer.role != Role.admin:
        raise Forbidden("only an admin can let an account keep a password someone else set")


def _keep_an_admin(session: Session, officer: Officer, changes: dict) -> None:
    leaves = changes.get("active") is False or changes.get("role", Role.admin) != Role.admin
    if officer.role != Role.admin or not leaves:
        return
    others = session.scalar(
        select(func.count()).where(Officer.role == Role.admin, Officer.active, Officer.id != officer.id)
    )
    if not others:
        raise Conflict("this is the last active admin account; make another admin first")


def create_officer(*, session: Session, viewer: Officer, data: schemas.OfficerIn) -> Officer:
    require_district_visible(session, viewer, data.district_id)
    _check_ceiling(viewer, data.role, "create")
    _check_waiver(viewer, data.must_change_password)
    if data.supervisor_id is not None:
        get_officer(session=session, viewer=viewer, officer_id=data.supervisor_id)
    if session.scalar(select(Officer.id).where(Officer.username == data.username)):
        raise Conflict(f"username '{data.username}' is taken")
    fields = data.model_dump(exclude={"password"})
    officer = Officer(**fields, password_hash=hash_password(data.password))
    session.add(officer)
    session.flush()
    record(session, viewer, "officer.create", officer.id, data.model_dump(mode="json", exclude={"password"}))
    return officer


def update_officer(*, session: Session, viewer: Officer, officer_id: int, data: schemas.OfficerUpdate) -> Officer:
    officer = get_officer(session=session, viewer=viewer, officer_id=officer_id)
    _check_ceiling(viewer, officer.role, "change")
    if data.role is not None:
        _check_ceiling(viewer, data.role, "grant the role of")
    _check_waiver(viewer, data.must_change_password)
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if k != "must_change_password" or v is not None
    }
    _keep_an_admin(session, officer, changes)
    if "supervisor_id" in changes and changes["supervisor_id"] is not None:
        get_officer(session=session, viewer=viewer, officer_id=changes["supervisor_id"])
    if "district_id" in changes:
        if changes["district_id"] is None:
            raise Invalid("an officer always belongs to a district; name the one to move them to")
        require_district_visible(session, viewer, changes["district_id"])
    if password := changes.pop("password", None):
        officer.password_hash = hash_password(password)
        # A password someone else chose is temporary unless an admin says otherwise.
        changes.setdefault("must_change_password", True)
    revoked = password is not None or changes.get("active") is False
    if revoked:
        accounts.revoke_sessions(officer)
    for key, value in changes.items():
        setattr(officer, key, value)
    session.flush()
    record(
        session,
        viewer,
        "officer.update",
        officer.id,
        {
            **data.model_dump(mode="json", exclude_unset=True, exclude={"password"}),
            "password_changed": password is not None,
            "tokens_revoked": revoked,
        },
    )
    return officer


# Supervisees --------------------------------------------------------------------------------------


def _caseload_filters(session: Session, viewer: Officer, found: schemas.CaseloadFilter) -> list[ColumnElement[bool]]:
    where = [supervisee_scope(session=session, viewer=viewer)]
    if found.q:
        # A search for "50%" means those characters, not a LIKE pattern.
        words = found.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(or_(Supervisee.full_name.ilike(f"%{words}%"), Supervisee.code.ilike(f"%{words}%")))
    for column, value in (
        (Supervisee.active, found.active),
        (Supervisee.officer_id, found.officer_id),
        (Supervisee.category, found.category),
        (Supervisee.risk_level, found.risk_level),
    ):
        if value is not None:
            where.append(column == value)
    return where


def list_supervisees(
    *,
    session: Session,
    viewer: Officer,
    active: bool | None = None,
    limit: int = 500,
    offset: int = 0,
    found: schemas.CaseloadFilter | None = None,
) -> Sequence[Supervisee]:
    """The viewer's caseload, by id; ``found`` narrows it (search by name or code, officer, category, risk)."""
    found = (found or schemas.CaseloadFilter()).model_copy(update={"active": active} if active is not None else {})
    query = select(Supervisee).where(*_caseload_filters(session, viewer, found))
    return session.scalars(query.order_by(Supervisee.id).limit(limit).offset(offset)).all()


def count_supervisees(*, session: Session, viewer: Officer, found: schemas.CaseloadFilter) -> int:
    """How many of the viewer's caseload ``found`` selects (for paging)."""
    return session.scalar(
        select(func.count()).select_from(Supervisee).where(*_caseload_filters(session, viewer, found))
    )


def get_supervisee(*, session: Session, viewer: Officer, supervisee_id: int) -> Supervisee:
    """The supervisee if in the viewer's caseload; otherwise 404, so existence does not leak."""
    supervisee = session.scalar(
        select(Supervisee).where(Supervisee.id == supervisee_id, supervisee_scope(session=session, viewer=viewer))
    )
    if supervisee is None:
        raise NotFound(f"supervisee {supervisee_id} not found")
    return supervisee


def get_manageable_supervisee(*, session: Session, viewer: Officer, supervisee_id: int) -> Supervisee:
    """As get_supervisee, and the viewer may change things about this person."""
    _require_manager(viewer)
    return get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)


def assignable_officers(*, session: Session, viewer: Officer) -> Sequence[Officer]:
    """Who the viewer may make a supervisee's officer (what _check_assignee accepts): an officer only
    themselves; others the active caseload-holding staff of their districts."""
    if viewer.role == Role.officer:
        return [viewer]
    query = select(Officer).where(Officer.active, Officer.role.in_((Role.officer, Role.supervisor, Role.command)))
    query = in_visible_districts(session, viewer, query.order_by(Officer.full_name, Officer.id), Officer.district_id)
    return session.scalars(query).all()


def _check_assignee(session: Session, viewer: Officer, officer_id: int | None) -> None:
    if officer_id is None:
        return
    if viewer.role == Role.officer and officer_id != viewer.id:
        raise Forbidden("an officer can only assign supervisees to themselves")
    get_officer(session=session, viewer=viewer, officer_id=officer_id)


def create_supervisee(*, session: Session, viewer: Officer, data: schemas.SuperviseeIn) -> Supervisee:
    _require_manager(viewer)
    require_district_visible(session, viewer, data.district_id)
    fields = data.model_dump()
    if viewer.role == Role.officer and fields["officer_id"] is None:
        fields["officer_id"] = viewer.id
    _check_assignee(session, viewer, fields["officer_id"])
    if session.scalar(select(Supervisee.id).where(Supervisee.code == data.code)):
        raise Conflict(f"a supervisee with code '{data.code}' already exists")
    supervisee = Supervisee(**fields)
    session.add(supervisee)
    session.flush()
    record(session, viewer, "supervisee.create", supervisee.id, data.model_dump(mode="json"))
    return supervisee


def update_supervisee(
    *, session: Session, viewer: Officer, supervisee_id: int, data: schemas.SuperviseeUpdate
) -> Supervisee:
    supervisee = get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    changes = data.model_dump(exclude_unset=True)
    if "officer_id" in changes:
        _check_assignee(session, viewer, changes["officer_id"])
    for key, value in changes.items():
        setattr(supervisee, key, value)
    session.flush()
    record(session, viewer, "supervisee.update", supervisee.id, data.model_dump(mode="json", exclude_unset=True))
    return supervisee


def deactivate(session: Session, viewer: Officer, row: Device | Supervisee | Gateway) -> None:
    """Switch a row off, its history kept for the auditors, and audit it as '<table>.deactivate'."""
    row.active = False
    session.flush()
    record(session, viewer, f"{row.__tablename__}.deactivate", row.id)


def delete_supervisee(*, session: Session, viewer: Officer, supervisee_id: int) -> None:
    """Ends supervision (deactivates); the history stays for the auditors."""
    supervisee = get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    for device in session.scalars(select(Device).where(Device.supervisee_id == supervisee_id)):
        device.active = False
    deactivate(session, viewer, supervisee)


# Devices ------------------------------------------------------------------------------------------


def list_devices(
    *, session: Session, viewer: Officer, supervisee_id: int, limit: int | None = None, offset: int = 0
) -> Sequence[Device]:
    get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    query = select(Device).where(Device.supervisee_id == supervisee_id).order_by(Device.id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def create_device(
    *, session: Session, viewer: Officer, supervisee_id: int, data: schemas.DeviceIn
) -> tuple[Device, str, str | None]:
    """Register a device; returns it with its token and, when ewall generated its id, that id (both are
    secrets: shown this once, stored only as hashes)."""
    supervisee = get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    if not supervisee.active:
        raise Conflict("supervision of this person has ended; reactivate them first")
    if data.external_id and session.scalar(select(Device.id).where(Device.external_id == data.external_id)):
        raise Conflict(f"a device with id '{data.external_id}' is already registered")
    key = None if data.external_id else new_device_key()
    token = new_device_token()
    device = Device(
        supervisee_id=supervisee_id,
        kind=data.kind,
        external_id=data.external_id,
        token_hash=hash_device_token(token),
        datum=data.datum,
        key_is_secret=key is not None,
        key_hash=key and hash_device_token(key),
        key_hint=key and device_key_hint(key),
    )
    session.add(device)
    session.flush()
    named = {"external_id": device.external_id} if key is None else {"key_hint": device.key_hint}
    record(
        session, viewer, "device.create", device.id, {"supervisee_id": supervisee_id, **named, "kind": data.kind.value}
    )
    return device, token, key


def deactivate_device(*, session: Session, viewer: Officer, supervisee_id: int, device_id: int) -> None:
    get_manageable_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    device = session.get(Device, device_id)
    if device is None or device.supervisee_id != supervisee_id:
        raise NotFound(f"device {device_id} not found for supervisee {supervisee_id}")
    deactivate(session, viewer, device)


def assigned_officer_id(*, session: Session, supervisee_id: int) -> int | None:
    """The officer responsible for this supervisee (alerts are assigned to them)."""
    return session.scalar(select(Supervisee.officer_id).where(Supervisee.id == supervisee_id))


def active_supervisee_ids(*, session: Session, supervisee_ids: Sequence[int]) -> set[int]:
    return set(session.scalars(select(Supervisee.id).where(Supervisee.id.in_(supervisee_ids), Supervisee.active)))


def risk_profiles(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, tuple[int, RiskLevel]]:
    """id → (district, risk level): what a person's alert policy depends on."""
    rows = session.execute(
        select(Supervisee.id, Supervisee.district_id, Supervisee.risk_level).where(Supervisee.id.in_(supervisee_ids))
    )
    return {sid: (district_id, risk) for sid, district_id, risk in rows}


def district_paths(*, session: Session, district_ids: Sequence[int]) -> dict[int, list[int]]:
    """district → the chain of districts from the root down to it."""
    up = (
        select(District.id.label("origin"), District.id, District.parent_id, literal(0).label("depth"))
        .where(District.id.in_(district_ids))
        .cte("up", recursive=True)
    )
    up = up.union_all(
        select(up.c.origin, District.id, District.parent_id, up.c.depth + 1).join(
            District, District.id == up.c.parent_id
        )
    )
    paths: dict[int, list[int]] = {}
    for origin, district_id in session.execute(select(up.c.origin, up.c.id).order_by(up.c.origin, up.c.depth.desc())):
        paths.setdefault(origin, []).append(district_id)
    return paths


_ESCALATION_RANK = {Role.supervisor: 1, Role.command: 2, Role.admin: 3}


def escalation_target(*, session: Session, officer_id: int | None, supervisee_id: int) -> int | None:
    """Who an officer's unacknowledged alerts go to: their named supervisor (officer.supervisor_id) if
    active; otherwise the nearest active officer ranked above them, a supervisor before command, in
    their own district or else the nearest ancestor district (for an alert nobody is assigned, the
    search starts from the person's district); None when there is nobody."""
    officer = session.get(Officer, officer_id) if officer_id is not None else None
    if officer is not None and officer.supervisor_id not in (None, officer.id):
        named = get_active_officer(session=session, officer_id=officer.supervisor_id)
        if named is not None:
            return named.id
    rank = _ESCALATION_RANK.get(officer.role, 0) if officer is not None else 0
    roles = [role for role in (Role.supervisor, Role.command) if _ESCALATION_RANK[role] > rank]
    start = officer.district_id if officer is not None else session.get(Supervisee, supervisee_id).district_id
    path = district_paths(session=session, district_ids=[start]).get(start, [])
    nearness = {d: n for n, d in enumerate(reversed(path))}
    candidates = session.execute(
        select(Officer.id, Officer.role, Officer.district_id).where(
            Officer.active, Officer.role.in_(roles), Officer.district_id.in_(path), Officer.id != officer_id
        )
    ).all()
    best = min(candidates, key=lambda c: (roles.index(c.role), nearness[c.district_id], c.id), default=None)
    return best.id if best is not None else None


def supervisee_names(*, session: Session, supervisee_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """id → (code, full name), for display."""
    rows = session.execute(
        select(Supervisee.id, Supervisee.code, Supervisee.full_name).where(Supervisee.id.in_(supervisee_ids))
    )
    return {sid: (code, name) for sid, code, name in rows}


def roster(*, session: Session, viewer: Officer, limit: int) -> Sequence[Row]:
    """The viewer's active caseload as plain rows (id, code, full_name, officer_id, category,
    risk_level), by id: what a map of thousands needs, without loading each person's record."""
    query = select(
        Supervisee.id,
        Supervisee.code,
        Supervisee.full_name,
        Supervisee.officer_id,
        Supervisee.category,
        Supervisee.risk_level,
    ).where(supervisee_scope(session=session, viewer=viewer), Supervisee.active)
    return session.execute(query.order_by(Supervisee.id).limit(limit)).all()


def supervisees_in_districts(*, session: Session, district_ids: Sequence[int]) -> dict[int, list[int]]:
    """district → the active supervisees in it or in any district below it (district-wide zones)."""
    members = {}
    for district_id in district_ids:
        subtree = district_subtree(session=session, district_id=district_id)
        members[district_id] = list(
            session.scalars(select(Supervisee.id).where(Supervisee.district_id.in_(subtree), Supervisee.active))
        )
    return members


def membership_version(*, session: Session) -> tuple:
    """Changes when people join, leave or move between districts (district-wide zones follow them).
    A checksum, not a log: cheap enough to ask every few seconds."""
    return tuple(
        session.execute(
            select(func.count(), func.max(Supervisee.id), func.sum(Supervisee.id * Supervisee.district_id)).where(
                Supervisee.active
            )
        ).one()
    )


# Oversight (the auditors', command centre's and administrators' pages) --------------------------------


def matching_supervisee_ids(
    *, session: Session, viewer: Officer, text: str | None = None, district_id: int | None = None
) -> ColumnElement:
    """A subquery of the viewer's caseload whose name or code contains ``text``, in ``district_id`` or
    below it (a district out of the viewer's scope is a 404)."""
    query = select(Supervisee.id).where(supervisee_scope(session=session, viewer=viewer))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Supervisee.full_name.ilike(pattern), Supervisee.code.ilike(pattern)))
    if district_id is not None:
        require_district_visible(session, viewer, district_id)
        query = query.where(Supervisee.district_id.in_(district_subtree(session=session, district_id=district_id)))
    return query.scalar_subquery()


def officer_names(*, session: Session, officer_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """id → (username, full name), for display; any district, as an approval records who approved
    wherever they sit."""
    rows = session.execute(select(Officer.id, Officer.username, Officer.full_name).where(Officer.id.in_(officer_ids)))
    return {oid: (username, name) for oid, username, name in rows}


def active_counts(*, session: Session, district_ids: Sequence[int]) -> dict[int, int]:
    """district → how many active supervisees it has (in itself, not below)."""
    rows = session.execute(
        select(Supervisee.district_id, func.count())
        .where(Supervisee.district_id.in_(district_ids), Supervisee.active)
        .group_by(Supervisee.district_id)
    )
    return dict(rows.all())


def list_devices_in_scope(
    *, session: Session, viewer: Officer, limit: int, offset: int = 0
) -> Sequence[tuple[Device, str, str]]:
    """The devices of the viewer's caseload with their person's code and name, active ones first."""
    query = (
        select(Device, Supervisee.code, Supervisee.full_name)
        .join(Supervisee, Supervisee.id == Device.supervisee_id)
        .where(supervisee_scope(session=session, viewer=viewer))
        .order_by(Device.active.desc(), Device.id)
    )
    return session.execute(query.limit(limit).offset(offset)).tuples().all()
