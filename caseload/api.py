"""Caseload REST API: sign-in, districts, officers, supervisees and their devices."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from caseload import accounts, phone_setup, schemas, service
from caseload.auth import AdminOfficer, CurrentOfficer, SignedInOfficer, StaffManager, sign_in_or_refuse, source_of
from caseload.models import Officer
from core.config import get_settings
from core.security import create_access_token
from core.web import SessionDep, StaffPage, paged

CaseloadPage = paged(default=500, maximum=5000)

router = APIRouter()


def token_for(officer: Officer) -> schemas.Token:
    return schemas.Token(
        access_token=create_access_token(
            officer_id=officer.id, role=officer.role, session_version=officer.session_version
        ),
        role=officer.role,
        officer_id=officer.id,
        must_change_password=officer.must_change_password,
    )


@router.post(
    "/auth/token",
    response_model=schemas.Token,
    tags=["auth"],
    responses={429: {"description": "too many failed sign-ins; see Retry-After"}},
)
def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: SessionDep):
    """OAuth2 password flow: exchange username and password for a bearer token. If must_change_password
    is true, only POST /auth/password and POST /auth/logout are open until the password is changed."""
    return token_for(sign_in_or_refuse(session, request, form.username, form.password))


@router.post("/auth/password", response_model=schemas.Token, tags=["auth"])
def change_password(data: schemas.PasswordChange, request: Request, session: SessionDep, officer: SignedInOfficer):
    """Change your own password; every earlier token stops working, and the answer holds a new one."""
    accounts.change_password(
        session=session,
        officer=officer,
        current_password=data.current_password,
        new_password=data.new_password,
        source=source_of(request),
    )
    session.commit()
    return token_for(officer)


@router.post("/auth/logout", status_code=204, tags=["auth"])
def sign_out(request: Request, session: SessionDep, officer: SignedInOfficer) -> Response:
    """Sign out: every token issued to you so far (on any device) stops working."""
    accounts.sign_out(session=session, officer=officer, source=source_of(request))
    session.commit()
    return Response(status_code=204)


@router.get("/auth/me", response_model=schemas.OfficerOut, tags=["auth"])
def me(officer: CurrentOfficer):
    """The signed-in officer."""
    return officer


@router.get("/districts", response_model=list[schemas.DistrictOut], tags=["districts"])
def list_districts(session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Districts visible to the caller."""
    return service.list_districts(session=session, viewer=viewer, limit=page.limit, offset=page.offset)


@router.post("/districts", response_model=schemas.DistrictOut, status_code=201, tags=["districts"])
def create_district(data: schemas.DistrictIn, session: SessionDep, viewer: AdminOfficer):
    """Create a district (admin)."""
    district = service.create_district(session=session, viewer=viewer, data=data)
    session.commit()
    return district


@router.get("/districts/{district_id}", response_model=schemas.DistrictOut, tags=["districts"])
def get_district(district_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One district."""
    return service.get_district(session=session, viewer=viewer, district_id=district_id)


@router.patch("/districts/{district_id}", response_model=schemas.DistrictOut, tags=["districts"])
def update_district(district_id: int, data: schemas.DistrictUpdate, session: SessionDep, viewer: AdminOfficer):
    """Rename a district (admin)."""
    district = service.update_district(session=session, viewer=viewer, district_id=district_id, data=data)
    session.commit()
    return district


@router.delete("/districts/{district_id}", status_code=204, tags=["districts"])
def delete_district(district_id: int, session: SessionDep, viewer: AdminOfficer):
    """Delete an empty district (admin)."""
    service.delete_district(session=session, viewer=viewer, district_id=district_id)
    session.commit()


@router.get("/officers", response_model=list[schemas.OfficerOut], tags=["officers"])
def list_officers(session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Officers in the caller's districts."""
    return service.list_officers(session=session, viewer=viewer, limit=page.limit, offset=page.offset)


@router.post("/officers", response_model=schemas.OfficerOut, status_code=201, tags=["officers"])
def create_officer(data: schemas.OfficerIn, session: SessionDep, viewer: StaffManager):
    """Create an officer account (admin, command)."""
    officer = service.create_officer(session=session, viewer=viewer, data=data)
    session.commit()
    return officer


@router.get("/officers/{officer_id}", response_model=schemas.OfficerOut, tags=["officers"])
def get_officer(officer_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One officer."""
    return service.get_officer(session=session, viewer=viewer, officer_id=officer_id)


@router.patch("/officers/{officer_id}", response_model=schemas.OfficerOut, tags=["officers"])
def update_officer(officer_id: int, data: schemas.OfficerUpdate, session: SessionDep, viewer: StaffManager):
    """Change an officer's details, role, password or active flag (admin; command for the ranks below).
    A new password or deactivation ends the officer's sessions."""
    officer = service.update_officer(session=session, viewer=viewer, officer_id=officer_id, data=data)
    session.commit()
    return officer


@router.get("/supervisees", response_model=list[schemas.SuperviseeOut], tags=["supervisees"])
def list_supervisees(
    session: SessionDep,
    viewer: CurrentOfficer,
    page: CaseloadPage,
    found: Annotated[schemas.CaseloadFilter, Query()],
):
    """The caller's caseload; search by name or code (q) and filter by officer, category, risk and active."""
    return service.list_supervisees(session=session, viewer=viewer, found=found, limit=page.limit, offset=page.offset)


@router.post("/supervisees", response_model=schemas.SuperviseeOut, status_code=201, tags=["supervisees"])
def create_supervisee(data: schemas.SuperviseeIn, session: SessionDep, viewer: CurrentOfficer):
    """Register a supervisee."""
    supervisee = service.create_supervisee(session=session, viewer=viewer, data=data)
    session.commit()
    return supervisee


@router.get("/supervisees/{supervisee_id}", response_model=schemas.SuperviseeOut, tags=["supervisees"])
def get_supervisee(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """One supervisee in the caller's caseload."""
    return service.get_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)


@router.patch("/supervisees/{supervisee_id}", response_model=schemas.SuperviseeOut, tags=["supervisees"])
def update_supervisee(supervisee_id: int, data: schemas.SuperviseeUpdate, session: SessionDep, viewer: CurrentOfficer):
    """Change a supervisee's details or assignment."""
    supervisee = service.update_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id, data=data)
    session.commit()
    return supervisee


@router.delete("/supervisees/{supervisee_id}", status_code=204, tags=["supervisees"])
def end_supervision(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer):
    """End supervision: the person and their devices are deactivated, history is kept."""
    service.delete_supervisee(session=session, viewer=viewer, supervisee_id=supervisee_id)
    session.commit()


@router.get("/supervisees/{supervisee_id}/devices", response_model=list[schemas.DeviceOut], tags=["devices"])
def list_devices(supervisee_id: int, session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """A supervisee's devices (tokens are never shown again)."""
    return service.list_devices(
        session=session, viewer=viewer, supervisee_id=supervisee_id, limit=page.limit, offset=page.offset
    )


@router.post(
    "/supervisees/{supervisee_id}/devices", response_model=schemas.DeviceCreated, status_code=201, tags=["devices"]
)
def create_device(supervisee_id: int, data: schemas.DeviceIn, session: SessionDep, viewer: CurrentOfficer):
    """Register a device; the answer holds its token, shown this once."""
    device, token, key = service.create_device(session=session, viewer=viewer, supervisee_id=supervisee_id, data=data)
    session.commit()
    return _shown_once(device, token, key)


def _shown_once(device, token: str, key: str | None) -> dict:
    shown = schemas.DeviceOut.model_validate(device).model_dump()
    return {**shown, "external_id": key or device.external_id, "token": token}


@router.post(
    "/supervisees/{supervisee_id}/phones", response_model=schemas.PhoneRegistered, status_code=201, tags=["devices"]
)
def register_phone(supervisee_id: int, data: schemas.DeviceIn, session: SessionDep, viewer: CurrentOfficer):
    """Register a device as POST .../devices does, and answer with QR codes that set up Traccar Client
    and OwnTracks on the phone: its id and token are in this answer only (a POST body, never a URL)."""
    device, token, key = service.create_device(session=session, viewer=viewer, supervisee_id=supervisee_id, data=data)
    session.commit()
    shown = _shown_once(device, token, key)
    setup = phone_setup.setup_for(
        ingest_url=get_settings().ingest_url_for_phones,
        device_key=shown["external_id"],
        key_is_secret=device.key_is_secret,
        token=token,
        tracker_id=f"ewall{device.id}",
    )
    return {**shown, "setup": setup}


@router.delete("/supervisees/{supervisee_id}/devices/{device_id}", status_code=204, tags=["devices"])
def deactivate_device(supervisee_id: int, device_id: int, session: SessionDep, viewer: CurrentOfficer):
    """Deactivate a device; its token stops working at once."""
    service.deactivate_device(session=session, viewer=viewer, supervisee_id=supervisee_id, device_id=device_id)
    session.commit()
