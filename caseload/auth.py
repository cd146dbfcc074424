"""Who is calling the portal: bearer token (API) or session cookie (pages), CSRF, and role gates.

CSRF: a request authenticated by the session cookie that changes state (POST, PUT, PATCH, DELETE)
must carry the session's CSRF token, in the ``X-CSRF-Token`` header or a ``csrf_token`` form field,
and, when the browser sends an ``Origin``, come from the portal's own origin. Pages put the token in
``<meta name="csrf-token">`` (base.html); htmx sends it on every request with::

    document.body.addEventListener("htmx:configRequest", (e) => {
      e.detail.headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
    });

and ``fetch`` the same way. Calls with ``Authorization: Bearer`` are not affected: a browser never adds
that header by itself. The cookie is also SameSite=Strict, so other sites' pages do not send it at all.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from caseload import accounts, service
from caseload.accounts import Source
from caseload.models import Officer
from core.config import get_settings
from core.security import InvalidToken, Role, csrf_token_matches, decode_access_token
from core.web import SessionDep

SESSION_COOKIE = "ewall_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
PASSWORD_CHANGE_PATH = "/api/v1/auth/password"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def _csrf_refused(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=f"{reason}; reload the page and try again")


def source_of(request: Request) -> Source:
    """The caller's address (the proxy's X-Forwarded-For when uvicorn trusts that proxy)."""
    return Source(address=request.client.host if request.client else "unknown")


def sign_in_or_refuse(session: Session, request: Request, username: str, password: str) -> Officer:
    """Check the credentials; a refusal is committed (it counts towards the lockout and is audited)."""
    try:
        officer = accounts.sign_in(session=session, username=username, password=password, source=source_of(request))
    except accounts.Throttled as exc:
        session.commit()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, detail=exc.message, headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc
    except accounts.WrongCredentials as exc:
        session.commit()
        raise _unauthorized(exc.message) from None
    session.commit()
    return officer


def cookie_is_secure(request: Request) -> bool:
    return get_settings().session_cookie_secure or request.url.scheme == "https"


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing browser request sent from another site's page."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise _csrf_refused(f"request from another site ({origin}) refused")


async def csrf_guard(request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]) -> None:
    """For cookie-authenticated state changes: the session's CSRF token and our own origin."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if bearer or not cookie or request.method in _SAFE_METHODS:
        return
    check_same_origin(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(_FORMS):
        presented = (await request.form()).get(CSRF_FIELD)  # parsed once; FastAPI reuses it
    if not isinstance(presented, str) or not csrf_token_matches(cookie, presented):
        raise _csrf_refused(f"missing or wrong CSRF token (send the {CSRF_HEADER} header or a {CSRF_FIELD} field)")


def signed_in_officer(
    request: Request,
    session: SessionDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    _csrf: Annotated[None, Depends(csrf_guard)] = None,
) -> Officer:
    """The caller, whether or not they still have to change their password."""
    token = bearer or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorized("not signed in: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token")
    try:
        claims = decode_access_token(token)
    except InvalidToken as exc:
        raise _unauthorized("the access token is invalid or expired; sign in again") from exc
    officer = service.get_active_officer(session=session, officer_id=claims.officer_id)
    if officer is None:
        raise _unauthorized("this account is disabled or no longer exists")
    if claims.session_version != officer.session_version:
        raise _unauthorized("this session has ended (signed out, password changed or reset); sign in again")
    return officer


SignedInOfficer = Annotated[Officer, Depends(signed_in_officer)]


def current_officer(officer: SignedInOfficer) -> Officer:
    """The caller, who has chosen their own password."""
    if officer.must_change_password:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"you must change your password first: POST {PASSWORD_CHANGE_PATH} "
            "with current_password and new_password (or use the portal's sign-in page)",
        )
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
