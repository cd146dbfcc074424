"""Who may send data, and who it is about: devices by token or secret key, gateways that post for
many devices, cameras and office terminals that report sightings. Ingest asks these questions
(through short-lived caches); officers manage the answers through the portal."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from caseload import monitoring, schemas
from caseload.models import Camera, CameraKind, Datum, Device, Gateway, Officer, Supervisee
from caseload.scope import district_subtree, get_in_visible_district, in_visible_districts, require_district_visible
from caseload.service import deactivate, record
from core.errors import Conflict
from core.security import hash_device_token, new_device_token


@dataclass(frozen=True)
class DeviceIdentity:
    """What ingest needs to know about an authenticated device, and when its person's positions may be
    taken: the approved monitoring windows, [from, until) in µs (cached with the device, so no fix
    costs a query)."""

    device_id: int
    supervisee_id: int
    external_id: str | None
    datum: Datum
    key_hash: str | None = None
    monitored: tuple[tuple[int, int], ...] = ()

    def named_by(self, name: str) -> bool:
        """Whether the device reports under ``name``: its registered id, or its generated key."""
        return name == self.external_id or (self.key_hash is not None and hash_device_token(name) == self.key_hash)

    def monitors(self, ts_us: int) -> bool:
        return any(start <= ts_us < end for start, end in self.monitored)


def _us(at) -> int:
    return int(at.timestamp() * 1_000_000)


def _with_windows(session: Session, identities: list[DeviceIdentity]) -> list[DeviceIdentity]:
    found = monitoring.windows(session=session, supervisee_ids=sorted({i.supervisee_id for i in identities}))
    return [
        replace(i, monitored=tuple((_us(a), _us(b)) for a, b in found.get(i.supervisee_id, ()))) for i in identities
    ]


_IDENTITY_COLUMNS = (Device.id, Device.supervisee_id, Device.external_id, Device.datum, Device.key_hash)


def _active_devices():
    return (
        select(*_IDENTITY_COLUMNS)
        .join(Supervisee, Supervisee.id == Device.supervisee_id)
        .where(Device.active, Supervisee.active)
    )


def device_by_token(*, session: Session, token: str) -> DeviceIdentity | None:
    """The active device holding this token, for ingest authentication."""
    row = session.execute(_active_devices().where(Device.token_hash == hash_device_token(token))).one_or_none()
    return _with_windows(session, [DeviceIdentity(*row)])[0] if row else None


def device_by_id(*, session: Session, device_id: int) -> DeviceIdentity | None:
    """The active device with this id (the phone page's web device, whose caller is already signed in)."""
    row = session.execute(_active_devices().where(Device.id == device_id)).one_or_none()
    return _with_windows(session, [DeviceIdentity(*row)])[0] if row else None


def device_by_secret_key(*, session: Session, key: str) -> DeviceIdentity | None:
    """The device whose ewall-generated id is ``key`` (for protocols with no password), by its hash."""
    row = session.execute(_active_devices().where(Device.key_hash == hash_device_token(key))).one_or_none()
    return _with_windows(session, [DeviceIdentity(*row)])[0] if row else None


def devices_by_external_ids(
    *, session: Session, external_ids: Sequence[str], district_ids: Sequence[int]
) -> dict[str, DeviceIdentity]:
    """The registered, active devices of supervisees in these districts among these ids, registered or
    generated (for gateways, whose batches name hundreds: one query for all)."""
    hashed = {hash_device_token(name): name for name in external_ids}
    rows = session.execute(
        _active_devices().where(
            or_(Device.external_id.in_(external_ids), Device.key_hash.in_(list(hashed))),
            Supervisee.district_id.in_(district_ids),
        )
    )
    identities = _with_windows(session, [DeviceIdentity(*row) for row in rows])
    return {identity.external_id or hashed[identity.key_hash]: identity for identity in identities}


def supervisee_by_code(*, session: Session, code: str, district_ids: Sequence[int]) -> int | None:
    """The active supervisee with this person code in these districts (for cameras)."""
    return session.scalar(
        select(Supervisee.id).where(
            Supervisee.code == code, Supervisee.active, Supervisee.district_id.in_(district_ids)
        )
    )


# Gateways -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayIdentity:
    gateway_id: int
    district_ids: tuple[int, ...]


def gateway_by_token(*, session: Session, token: str) -> GatewayIdentity | None:
    gateway = session.scalar(select(Gateway).where(Gateway.token_hash == hash_device_token(token), Gateway.active))
    if gateway is None:
        return None
    return GatewayIdentity(gateway.id, tuple(district_subtree(session=session, district_id=gateway.district_id)))


def list_gateways(*, session: Session, viewer: Officer, limit: int | None = None, offset: int = 0) -> Sequence[Gateway]:
    query = in_visible_districts(session, viewer, select(Gateway).order_by(Gateway.id), Gateway.district_id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def create_gateway(*, session: Session, viewer: Officer, data: schemas.GatewayIn) -> tuple[Gateway, str]:
    """Register a gateway; returns it with its token, shown this once."""
    require_district_visible(session, viewer, data.district_id)
    token = new_device_token()
    gateway = Gateway(name=data.name, district_id=data.district_id, token_hash=hash_device_token(token))
    session.add(gateway)
    session.flush()
    record(session, viewer, "gateway.create", gateway.id, data.model_dump(mode="json"))
    return gateway, token


def deactivate_gateway(*, session: Session, viewer: Officer, gateway_id: int) -> None:
    deactivate(session, viewer, get_in_visible_district(session, viewer, Gateway, gateway_id))


# Cameras ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraIdentity:
    camera_id: int
    code: str
    kind: CameraKind
    lat: float
    lon: float
    radius_m: float
    district_ids: tuple[int, ...]


def camera_by_token(*, session: Session, token: str) -> CameraIdentity | None:
    camera = session.scalar(select(Camera).where(Camera.token_hash == hash_device_token(token), Camera.active))
    if camera is None:
        return None
    return CameraIdentity(
        camera.id,
        camera.code,
        camera.kind,
        camera.lat,
        camera.lon,
        camera.radius_m,
        tuple(district_subtree(session=session, district_id=camera.district_id)),
    )


def list_cameras(*, session: Session, viewer: Officer, limit: int | None = None, offset: int = 0) -> Sequence[Camera]:
    query = in_visible_districts(session, viewer, select(Camera).order_by(Camera.id), Camera.district_id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def get_camera(*, session: Session, viewer: Officer, camera_id: int) -> Camera:
    return get_in_visible_district(session, viewer, Camera, camera_id)


def create_camera(*, session: Session, viewer: Officer, data: schemas.CameraIn) -> tuple[Camera, str]:
    """Register a camera or office terminal; returns it with its token, shown this once."""
    require_district_visible(session, viewer, data.district_id)
    if session.scalar(select(Camera.id).where(Camera.code == data.code)):
        raise Conflict(f"a camera with code '{data.code}' already exists")
    token = new_device_token()
    camera = Camera(**data.model_dump(), token_hash=hash_device_token(token))
    session.add(camera)
    session.flush()
    record(session, viewer, "camera.create", camera.id, data.model_dump(mode="json"))
    return camera, token


def update_camera(*, session: Session, viewer: Officer, camera_id: int, data: schemas.CameraUpdate) -> Camera:
    camera = get_camera(session=session, viewer=viewer, camera_id=camera_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(camera, key, value)
    session.flush()
    record(session, viewer, "camera.update", camera_id, changes)
    return camera


def camera_names(*, session: Session, camera_ids: Sequence[int]) -> dict[int, tuple[str, str, CameraKind]]:
    """id → (code, name, kind), for showing where a person was seen or checked in."""
    rows = session.execute(select(Camera.id, Camera.code, Camera.name, Camera.kind).where(Camera.id.in_(camera_ids)))
    return {camera_id: (code, name, kind) for camera_id, code, name, kind in rows}


@dataclass(frozen=True)
class NearbyCamera:
    name: str
    lat: float
    lon: float
    distance_m: float | None


def nearest_cameras(
    *, session: Session, district_id: int, lat: float | None, lon: float | None, limit: int
) -> list[NearbyCamera]:
    """The active street cameras a person can walk to for a camera-mode roll call: the nearest to their
    last position, or with none known, those of their district (and below), by name."""
    query = select(Camera.name, Camera.lat, Camera.lon).where(Camera.active, Camera.kind == CameraKind.camera)
    if lat is None or lon is None:
        query = query.where(Camera.district_id.in_(district_subtree(session=session, district_id=district_id)))
        return [NearbyCamera(n, a, o, None) for n, a, o in session.execute(query.order_by(Camera.name).limit(limit))]
    distance = func.ST_DistanceSphere(func.ST_MakePoint(Camera.lon, Camera.lat), func.ST_MakePoint(lon, lat))
    rows = session.execute(query.add_columns(distance).order_by(distance).limit(limit))
    return [NearbyCamera(n, a, o, round(d, 1)) for n, a, o, d in rows]
