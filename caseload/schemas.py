"""Wire formats of the caseload API."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from caseload.models import CameraKind, Category, Datum, DeviceKind, DistrictLevel, RiskLevel
from core.security import Role

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
    monitoring_start: date | None = None
    monitoring_end: date | None = None

    @model_validator(mode="after")
    def periods_in_order(self):
        for start, end in (("supervision_start", "supervision_end"), ("monitoring_start", "monitoring_end")):
            first, last = getattr(self, start), getattr(self, end)
            if first and last and last < first:
                raise ValueError(f"{end} is before {start}")
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


class SuperviseeUpdate(_Periods):
    full_name: Name | None = None
    phone: Phone | None = None
    category: Category | None = None
    risk_level: RiskLevel | None = None
    officer_id: int | None = None
    active: bool | None = None


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
    monitoring_start: date | None
    monitoring_end: date | None
    active: bool


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
