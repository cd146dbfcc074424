"""Wire formats of the supervisee's phone page (#16): sign-in links, the phone session, officers'
messages."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.timezones import Moment


class PhoneLinkOut(BaseModel):
    """A sign-in link as officers list it: never its code (kept only as a hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int
    created_by: int | None
    created_at: datetime
    code_expires_at: datetime
    redeemed_at: datetime | None = Field(description="when the phone signed in with it (one time only)")
    revoked_at: datetime | None = Field(description="revoked: the phone's session has ended")
    revoked_by: int | None
    device_id: int | None = Field(description="the link's web device, made when the phone signed in")


class PhoneLinkIssued(PhoneLinkOut):
    """A new link with its one-time code, shown this once."""

    code: str
    url: str = Field(description="the phone page with the code: open it on the supervisee's phone")
    qr_svg: str = Field(description="the URL as a QR code (SVG data URI) to scan with the phone")


class PhoneSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PhoneSupervisee(BaseModel):
    name: str
    code: str


class PhoneSession(BaseModel):
    supervisee: PhoneSupervisee
    token: str = Field(description="the phone session token (also set as the ewall_phone cookie)")


MessageBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: MessageBody


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    supervisee_id: int
    officer_id: int | None
    body: str
    sent_at: datetime
    read_at: datetime | None = Field(description="when the supervisee marked it read on their phone")


class PhonePositionIn(BaseModel):
    """The browser's position (navigator.geolocation, WGS-84) while the phone page is open."""

    model_config = ConfigDict(extra="forbid")

    lat: Annotated[float, Field(strict=True, ge=-90, le=90)]
    lon: Annotated[float, Field(strict=True, ge=-180, le=180)]
    accuracy_m: Annotated[float, Field(strict=True, ge=0, le=100_000)]
    ts: Moment | None = Field(None, description="when the browser took it (default: now)")
