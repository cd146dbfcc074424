"""Who is calling the portal: bearer token (API) or session cookie (pages), and role gates."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from caseload import service
from caseload.models import Officer
from core.security import InvalidToken, Role, decode_access_token
from core.web import SessionDep

SESSION_COOKIE = "ewall_session"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def current_officer(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> Officer:
    token = bearer or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorized("not signed in: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    try:
        officer_id = decode_access_token(token)
    except InvalidToken as exc:
        raise _unauthorized("the access token is invalid or expired; sign in again") from exc
    officer = service.get_active_officer(session=session, officer_id=officer_id)
    if officer is None:
        raise _unauthorized("this account is disabled or no longer exists")
    return officer


CurrentOfficer = Annotated[Officer, Depends(current_officer)]


def require_roles(*roles: Role):
    """A dependency that lets only these roles through."""
    allowed = frozenset(roles)

    def check(officer: CurrentOfficer) -> Officer:
        if officer.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"requires role {' or '.join(sorted(allowed))}; you are {officer.role}",
            )
        return officer

    return check


AdminOfficer = Annotated[Officer, Depends(require_roles(Role.admin))]
StaffManager = Annotated[Officer, Depends(require_roles(Role.admin, Role.command))]
