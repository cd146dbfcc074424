"""Who may see whom: a district's subtree, the districts and supervisees an officer may see, and
the 404 that hides the rest (so that existence does not leak). Every domain scopes its queries
with these."""

from typing import TypeVar

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session

from caseload.models import District, Officer, Supervisee
from core.errors import NotFound
from core.security import Role

Row = TypeVar("Row")
DISTRICT_WIDE = frozenset({Role.supervisor, Role.command, Role.auditor})


def district_subtree(*, session: Session, district_id: int) -> list[int]:
    """The district and every district below it."""
    tree = select(District.id).where(District.id == district_id).cte("tree", recursive=True)
    tree = tree.union_all(select(District.id).where(District.parent_id == tree.c.id))
    return list(session.scalars(select(tree.c.id)))


def visible_district_ids(*, session: Session, viewer: Officer) -> list[int] | None:
    """Districts the viewer may see; None means all (admin)."""
    if viewer.role == Role.admin:
        return None
    return district_subtree(session=session, district_id=viewer.district_id)


def sees_whole_platform(*, session: Session, viewer: Officer) -> bool:
    """Admins, and staff of a root district: they alone see what belongs to no district."""
    if viewer.role == Role.admin:
        return True
    return session.scalar(select(District.parent_id).where(District.id == viewer.district_id)) is None


def supervisee_scope(*, session: Session, viewer: Officer) -> ColumnElement[bool]:
    """A WHERE clause on Supervisee limiting rows to the viewer's caseload."""
    if viewer.role == Role.admin:
        return true()
    if viewer.role == Role.officer:
        return Supervisee.officer_id == viewer.id
    return Supervisee.district_id.in_(district_subtree(session=session, district_id=viewer.district_id))


def visible_supervisee_ids(*, session: Session, viewer: Officer) -> ColumnElement:
    """A subquery of supervisee ids in the viewer's caseload, for other domains' queries."""
    return select(Supervisee.id).where(supervisee_scope(session=session, viewer=viewer)).scalar_subquery()


def supervisee_ids_in_district(*, session: Session, district_id: int) -> ColumnElement:
    """A subquery of the ids of the supervisees in a district or below it, for other domains' filters."""
    subtree = district_subtree(session=session, district_id=district_id)
    return select(Supervisee.id).where(Supervisee.district_id.in_(subtree)).scalar_subquery()


def require_district_visible(session: Session, viewer: Officer, district_id: int) -> District:
    """The district if the viewer may see it; otherwise 404."""
    district = session.get(District, district_id)
    visible = visible_district_ids(session=session, viewer=viewer)
    if district is None or (visible is not None and district_id not in visible):
        raise NotFound(f"district {district_id} not found")
    return district


def get_in_visible_district(session: Session, viewer: Officer, model: type[Row], row_id: int) -> Row:
    """A row with a ``district_id`` the viewer may see; otherwise 404, so existence does not leak."""
    row = session.get(model, row_id)
    visible = visible_district_ids(session=session, viewer=viewer)
    if row is None or (visible is not None and row.district_id not in visible):
        raise NotFound(f"{model.__tablename__} {row_id} not found")
    return row


def in_visible_districts(session: Session, viewer: Officer, query: Select, district_column) -> Select:
    """The query limited to rows whose ``district_column`` the viewer may see."""
    visible = visible_district_ids(session=session, viewer=viewer)
    return query if visible is None else query.where(district_column.in_(visible))
