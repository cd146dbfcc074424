"""Wire formats of the caseload API."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from caseload import periods
from caseload.models import CameraKind, Category, Datum, DeviceKind, DistrictLevel, MonitoringGround, RiskLevel
from core.config import get_settings
from core.security import Role
from core.timezones import display_tz, utcnow

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")
]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-@]+$")
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^\+?[0-9\- ]{5,32}$")]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DistrictIn(BaseModel):
    code: Code
    name: Name
    level: DistrictLevel
    parent_id: int | None = None


class DistrictUpdate(BaseModel):
    name: Name | None = None


class DistrictOut(Out):
    id: int
    code: str
    name: str
    level: DistrictLevel
    parent_id: int | None
    created_at: datetime


class OfficerIn(BaseModel):
    username: Username
    full_name: Name
    password: Password
    role: Role
    district_id: int
    supervisor_id: int | None = None
    phone: Phone | None = None
    must_change_password: bool = Field(
        True, description="the officer must choose their own password at first sign-in; only an admin may say false"
    )


class OfficerUpdate(BaseModel):
    full_name: Name | None = None
    password: Password | None = None
    role: Role | None = None
    district_id: int | None = Field(None, description="move the officer to another district of the caller's")
    supervisor_id: int | None = None
    phone: Phone | None = None
    active: bool | None = None
    must_change_password: bool | None = Field(
        None, description="true after a password reset unless an admin says false"
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=128)
    new_password: Password


class OfficerOut(Out):
    id: int
    username: str
    full_name: str
    role: Role
    district_id: int
    supervisor_id: int | None
    phone: str | None
    active: bool
    must_change_password: bool


class _Periods(BaseModel):
    supervision_start: date | None = None
    supervision_end: date | None = None

    @model_validator(mode="before")
    @classmethod
    def monitoring_has_its_own_record(cls, data):
        if isinstance(data, dict) and ({"monitoring_start", "monitoring_end"} & data.keys()):
            raise ValueError(
                "electronic monitoring needs an approved period: POST /api/v1/supervisees/{id}/monitoring-periods"
            )
        return data

    @model_validator(mode="after")
    def periods_in_order(self):
        if self.supervision_start and self.supervision_end and self.supervision_end < self.supervision_start:
            raise ValueError("supervision_end is before supervision_start")
        return self


class SuperviseeIn(_Periods):
    code: Code
    full_name: Name
    phone: Phone | None = None
    category: Category
    risk_level: RiskLevel = RiskLevel.medium
    district_id: int
    officer_id: int | None = None
    supervision_start: date


class CaseloadFilter(BaseModel):
    """Which of the caller's caseload to list: all of it when every field is empty."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = Field(
        None, description="part of the name or the person code"
    )
    officer_id: int | None = None
    category: Category | None = None
    risk_level: RiskLevel | None = None
    active: bool | None = None


class SuperviseeUpdate(_Periods):
    full_name: Name | None = None
    phone: Phone | None = None
    category: Category | None = None
    risk_level: RiskLevel | None = None
    officer_id: int | None = None
    active: bool | None = None


class MonitoringNow(BaseModel):
    """The monitoring period in force today, how long monitoring goes on (renewals already approved
    included) and whether the officer should decide about a renewal now."""

    period_id: int
    starts_on: date
    ends_on: date
    days_left: int = Field(description="whole days after today until the last day (0 on the last day)")
    ending_soon: bool = Field(description="within EWALL_MONITORING_REMINDER_DAYS of its end")

    @classmethod
    def of(cls, rows) -> "MonitoringNow | None":
        now = periods.current(rows, utcnow(), display_tz())
        if now is None:
            return None
        soon = now.days_left <= get_settings().monitoring_reminder_days
        return cls(**vars(now), ending_soon=soon)


class SuperviseeOut(Out):
    id: int
    code: str
    full_name: str
    phone: str | None
    category: Category
    risk_level: RiskLevel
    district_id: int
    officer_id: int | None
    supervision_start: date
    supervision_end: date | None
    monitoring_start: date | None = Field(None, description="first day of the period in force (derived)")
    monitoring_end: date | None = Field(None, description="last day of monitoring approved so far (derived)")
    monitoring: MonitoringNow | None = None
    active: bool

    @model_validator(mode="before")
    @classmethod
    def derive_monitoring(cls, data):
        # From the monitoring_period rows: the one source of truth.
        rows = getattr(data, "monitoring_periods", None)
        if rows is None:
            return data
        fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        monitoring = MonitoringNow.of(rows)
        return fields | {
            "monitoring": monitoring,
            "monitoring_start": monitoring and monitoring.starts_on,
            "monitoring_end": monitoring and monitoring.ends_on,
        }


class DeviceIn(BaseModel):
    kind: DeviceKind = DeviceKind.phone
    external_id: Code | None = Field(
        None, description="Identifier the device reports (IMEI, tracker id); generated when omitted"
    )
    datum: Datum = Datum.wgs84


class DeviceOut(Out):
    id: int
    supervisee_id: int
    kind: DeviceKind
    external_id: str | None = Field(description="the id an officer registered; empty for a generated key")
    key_is_secret: bool = Field(description="ewall generated the id; it doubles as the OsmAnd/Traccar key")
    key_hint: str | None = Field(description="the generated key's last characters, to tell devices apart")
    datum: Datum
    active: bool
    created_at: datetime


class DeviceCreated(DeviceOut):
    """The one answer that shows the device's secrets: its token and its generated id in full."""

    token: str = Field(description="Shown once; only its hash is stored")


class PhoneSetup(BaseModel):
    """What the phone's tracker app needs, as text and as QR codes (SVG data URIs)."""

    ingest_url: str = Field(description="where the phone reports (EWALL_INGEST_PUBLIC_URL)")
    traccar_url: str | None = Field(
        description="Traccar Client's configuration link (server URL with the device identifier); only for a "
        "generated id, which is the device's key for the OsmAnd protocol"
    )
    traccar_qr: str | None = Field(description="QR code of traccar_url, an SVG data URI")
    owntracks_config: dict = Field(description="OwnTracks configuration (.otrc): HTTP mode, user = device id")
    owntracks_url: str = Field(description="owntracks:///config?inline=… that loads owntracks_config")
    owntracks_qr: str = Field(description="QR code of owntracks_url, an SVG data URI")


class PhoneRegistered(DeviceCreated):
    """A device registered with its set-up QR codes: the secrets are in this one answer only."""

    setup: PhoneSetup


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: Role
    officer_id: int
    must_change_password: bool = False


class GatewayIn(BaseModel):
    name: Name
    district_id: int


class GatewayOut(Out):
    id: int
    name: str
    district_id: int
    active: bool
    created_at: datetime


class GatewayCreated(GatewayOut):
    token: str = Field(description="Shown once; only its hash is stored")


class CameraIn(BaseModel):
    code: Code
    name: Name
    kind: CameraKind = CameraKind.camera
    district_id: int
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    radius_m: Annotated[float, Field(gt=0, le=5000)] = 30


class CameraUpdate(BaseModel):
    name: Name | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    radius_m: Annotated[float, Field(gt=0, le=5000)] | None = None
    active: bool | None = None


class CameraOut(Out):
    id: int
    code: str
    name: str
    kind: CameraKind
    district_id: int
    lat: float
    lon: float
    radius_m: float
    active: bool


class CameraCreated(CameraOut):
    token: str = Field(description="Shown once; only its hash is stored")


Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class MonitoringPeriodIn(BaseModel):
    """A new period, approved by the caller (社区矫正法 art. 29: at most 3 months)."""

    starts_on: date
    ends_on: date = Field(description="the last day; at most starts_on + 3 calendar months")
    grounds: list[MonitoringGround] = Field(min_length=1, description="art. 29 grounds, one or more")
    assessment: Note | None = None

    @model_validator(mode="after")
    def distinct_grounds(self):
        self.grounds = list(dict.fromkeys(self.grounds))
        return self


class MonitoringRenewalIn(BaseModel):
    """A renewal: from the day after the period renewed ends, at most 3 months more, on an assessment."""

    ends_on: date = Field(description="the last day; at most the renewed period's last day + 3 calendar months")
    grounds: list[MonitoringGround] = Field(min_length=1)
    assessment: Note = Field(description="why monitoring must go on (经评估仍有必要继续使用)")


class MonitoringReleaseIn(BaseModel):
    reason: Note


class MonitoringPeriodOut(Out):
    id: int
    supervisee_id: int
    renews_id: int | None
    starts_on: date
    ends_on: date
    grounds: list[MonitoringGround]
    assessment: str | None
    approved_by: int
    approved_at: datetime
    released_at: datetime | None
    released_by: int | None
    release_reason: str | None


class MonitoringEnding(BaseModel):
    """A person whose monitoring ends soon: renew it on an assessment, or let it end."""

    supervisee_id: int
    code: str
    full_name: str
    officer_id: int | None
    period_id: int
    ends_on: date
    days_left: int
