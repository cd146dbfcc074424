"""Portal routes for ingest sources: gateways and cameras (tokens shown once)."""

from fastapi import APIRouter

from caseload import schemas, sources
from caseload.auth import CurrentOfficer, StaffManager
from core.web import SessionDep, StaffPage

router = APIRouter()


@router.get("/gateways", response_model=list[schemas.GatewayOut], tags=["gateways"])
def list_gateways(session: SessionDep, viewer: StaffManager, page: StaffPage):
    """Gateways of the caller's districts (admin, command)."""
    return sources.list_gateways(session=session, viewer=viewer, limit=page.limit, offset=page.offset)


@router.post("/gateways", response_model=schemas.GatewayCreated, status_code=201, tags=["gateways"])
def create_gateway(data: schemas.GatewayIn, session: SessionDep, viewer: StaffManager):
    """Register a gateway that posts fixes for the district's devices; its token is shown once."""
    gateway, token = sources.create_gateway(session=session, viewer=viewer, data=data)
    session.commit()
    return schemas.GatewayCreated(**schemas.GatewayOut.model_validate(gateway).model_dump(), token=token)


@router.delete("/gateways/{gateway_id}", status_code=204, tags=["gateways"])
def deactivate_gateway(gateway_id: int, session: SessionDep, viewer: StaffManager):
    """Deactivate a gateway; its token stops working within seconds."""
    sources.deactivate_gateway(session=session, viewer=viewer, gateway_id=gateway_id)
    session.commit()


@router.get("/cameras", response_model=list[schemas.CameraOut], tags=["cameras"])
def list_cameras(session: SessionDep, viewer: CurrentOfficer, page: StaffPage):
    """Cameras and office terminals of the caller's districts."""
    return sources.list_cameras(session=session, viewer=viewer, limit=page.limit, offset=page.offset)


@router.post("/cameras", response_model=schemas.CameraCreated, status_code=201, tags=["cameras"])
def create_camera(data: schemas.CameraIn, session: SessionDep, viewer: StaffManager):
    """Register a camera or office check-in terminal; its token is shown once."""
    camera, token = sources.create_camera(session=session, viewer=viewer, data=data)
    session.commit()
    return schemas.CameraCreated(**schemas.CameraOut.model_validate(camera).model_dump(), token=token)


@router.patch("/cameras/{camera_id}", response_model=schemas.CameraOut, tags=["cameras"])
def update_camera(camera_id: int, data: schemas.CameraUpdate, session: SessionDep, viewer: StaffManager):
    """Move, rename or deactivate a camera."""
    camera = sources.update_camera(session=session, viewer=viewer, camera_id=camera_id, data=data)
    session.commit()
    return camera
