"""Districts (市/县/乡), officers, supervisees and their devices."""

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, pg_enum
from core.security import Role


class DistrictLevel(enum.StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"


class Category(enum.StrEnum):
    """The four community-corrections categories."""

    control = "control"  # 管制
    probation = "probation"  # 缓刑
    parole = "parole"  # 假释
    temporary_release = "temporary_release"  # 暂予监外执行


class RiskLevel(enum.StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class DeviceKind(enum.StrEnum):
    phone = "phone"
    tracker = "tracker"
    web = "web"  # the supervisee's phone page (/m/), reporting the browser's geolocation while open


class Datum(enum.StrEnum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


class District(Base):
    __tablename__ = "district"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[DistrictLevel] = mapped_column(pg_enum(DistrictLevel, "district_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Officer(Base):
    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(pg_enum(Role, "officer_role"))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    # Unacknowledged alerts escalate to this officer.
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Set when someone else chose the password (seeding, creation, reset): the API refuses everything
    # but a password change and sign-out until the officer picks their own.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Tokens carry the version they were issued at; bumping it (sign-out, password change,
    # deactivation) revokes every token issued before.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SignInThrottle(Base):
    """Failed sign-ins counted per key (``account:<username>`` or ``address:<ip>``) within a window."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Supervisee(Base):
    __tablename__ = "supervisee"
    __table_args__ = (
        CheckConstraint("supervision_end IS NULL OR supervision_end >= supervision_start", name="supervision_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The person code that cameras and the national system use.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[Category] = mapped_column(pg_enum(Category, "supervisee_category"))
    risk_level: Mapped[RiskLevel] = mapped_column(pg_enum(RiskLevel, "risk_level"))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="SET NULL"), index=True)
    supervision_start: Mapped[date] = mapped_column(Date)
    supervision_end: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The electronic monitoring periods are the one record of when this person is monitored.
    monitoring_periods: Mapped[list["MonitoringPeriod"]] = relationship(
        lazy="selectin", order_by="MonitoringPeriod.starts_on", viewonly=True
    )


class MonitoringGround(enum.StrEnum):
    """The grounds on which 社区矫正法 art. 29 allows electronic monitoring."""

    court_injunction_violated = "court_injunction_violated"  # (一)违反人民法院禁止令
    left_area_without_approval = "left_area_without_approval"  # (二)无正当理由，未经批准离开所居住的市、县
    refused_to_report_warned = "refused_to_report_warned"  # (三)拒不按照规定报告自己的活动情况，被给予警告
    public_security_penalty = "public_security_penalty"  # (四)违反监督管理规定，被给予治安管理处罚
    revocation_pending = "revocation_pending"  # (五)拟提请撤销缓刑、假释或者暂予监外执行收监执行


GROUND_LABELS = {
    MonitoringGround.court_injunction_violated: "违反人民法院禁止令 Violated a court injunction",
    MonitoringGround.left_area_without_approval: "未经批准离开所居住的市、县 Left the city or county without approval",
    MonitoringGround.refused_to_report_warned: "拒不报告活动情况，被给予警告 Refused to report, warned",
    MonitoringGround.public_security_penalty: "违反监督管理规定，被给予治安管理处罚 Public-security penalty",
    MonitoringGround.revocation_pending: "拟提请撤销缓刑、假释或暂予监外执行 Revocation to be requested",
}


class MonitoringPeriod(Base):
    """One approved period of electronic monitoring (社区矫正法 art. 29), or one renewal of it; kept
    after it ends or is released, as the record of when the person was lawfully monitored."""

    __tablename__ = "monitoring_period"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="in_order"),
        # The service applies the exact rule (a renewal counts from its predecessor's last day); this
        # is the bound both satisfy.
        CheckConstraint("ends_on <= starts_on + interval '3 months'", name="at_most_three_months"),
        CheckConstraint("cardinality(grounds) > 0", name="has_grounds"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_period.id", ondelete="RESTRICT"), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # its last day
    grounds: Mapped[list[MonitoringGround]] = mapped_column(ARRAY(pg_enum(MonitoringGround, "monitoring_ground")))
    assessment: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[int] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    release_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class UnapprovedMonitoringDates(Base):
    """Monitoring dates entered on a supervisee before periods needed an approver and grounds (revision
    0015). Kept as they were, never applied: an officer turns them into approved periods, or not."""

    __tablename__ = "unapproved_monitoring_dates"

    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), primary_key=True)
    monitoring_start: Mapped[date | None] = mapped_column(Date)
    monitoring_end: Mapped[date | None] = mapped_column(Date)


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (CheckConstraint("external_id IS NOT NULL OR key_hash IS NOT NULL", name="identified"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DeviceKind] = mapped_column(pg_enum(DeviceKind, "device_kind"))
    # The identifier the device itself reports (IMEI, tracker id, OwnTracks user/device) when an officer
    # registered it; empty for a generated key, which is kept only as key_hash.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # True when ewall generated the device's id (core.security.new_device_key): it is then long and
    # random, protocols with no password of their own (OsmAnd/Traccar) authenticate by it alone, and it
    # is a password: stored as its SHA-256 (key_hash), shown as its last characters (key_hint).
    key_is_secret: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str | None] = mapped_column(String(16))
    datum: Mapped[Datum] = mapped_column(pg_enum(Datum, "datum"), default=Datum.wgs84, server_default="wgs84")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Gateway(Base):
    """A trusted system (a vendor platform, a tracker server) that posts fixes for many devices of
    its district."""

    __tablename__ = "gateway"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CameraKind(enum.StrEnum):
    camera = "camera"  # street or site CCTV with face matching
    office = "office"  # check-in terminal at a judicial office (报到)


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[CameraKind] = mapped_column(pg_enum(CameraKind, "camera_kind"))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="RESTRICT"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # How far from the camera a sighted person can be; becomes the fix's accuracy.
    radius_m: Mapped[float] = mapped_column(Float, default=30, server_default="30")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PhonePageLink(Base):
    """A supervisee's access to their phone page (/m/): a one-time sign-in code an officer hands over
    (a link or QR code), bound to the person; redeeming it starts the phone's session, and revoking
    the link ends that session. ``device_id`` is the page's own device (kind ``web``), made at
    redemption, through which the page reports positions."""

    __tablename__ = "phone_page_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the one-time code
    created_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    code_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="SET NULL"))


class OfficerMessage(Base):
    """A message from staff to a supervisee, shown on their phone page."""

    __tablename__ = "officer_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrolmentPhoto(Base):
    """The supervisee's photo taken at enrolment (入矫), beside which officers check roll-call photos."""

    __tablename__ = "enrolment_photo"

    supervisee_id: Mapped[int] = mapped_column(ForeignKey("supervisee.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("officer.id", ondelete="RESTRICT"))
