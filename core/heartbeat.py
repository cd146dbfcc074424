"""Each process's heartbeat: one row per running process, rewritten every few seconds from its main
loop, read by readiness (``core.health``) and by the watchdog to tell the platform's own outages
from a supervisee's silence."""

import logging
import os
import socket
import threading
import time
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.config import Settings, get_settings
from core.db import Base, session_scope
from core.errors import first_line
from core.timezones import utcnow

log = logging.getLogger("ewall.heartbeat")
# A process gone this long is forgotten (its row only documents a past run).
FORGET_AFTER_S = 24 * 3600


class ProcessHeartbeat(Base):
    """One row per running process (role, host, pid), rewritten every few seconds while it works."""

    __tablename__ = "process_heartbeat"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    pid: Mapped[int] = mapped_column(Integer)


class Heartbeat:
    """A process's own heartbeat. ``beat()`` is called from its main loop, so a wedged loop stops
    beating even when the process is alive; it writes at most every ``heartbeat_interval_s``."""

    def __init__(self, role: str, settings: Settings | None = None):
        self.role = role
        self.process = f"{role}@{socket.gethostname()}:{os.getpid()}"
        self.interval_s = (settings or get_settings()).heartbeat_interval_s
        self._started_at = utcnow()
        self._due = 0.0
        self._failing = False
        self._lock = threading.Lock()

    def beat(self) -> None:
        """Record that this process is working (never raises: a down database is reported elsewhere)."""
        with self._lock:
            if time.monotonic() < self._due:
                return
            self._due = time.monotonic() + self.interval_s
        try:
            with session_scope() as session:
                record_beat(session, process=self.process, role=self.role, started_at=self._started_at)
        except SQLAlchemyError as exc:
            if not self._failing:
                log.warning("%s: heartbeat not recorded (%s); retrying quietly", self.process, first_line(exc))
            self._failing = True
            return
        if self._failing:
            log.info("%s: heartbeat recorded again", self.process)
        self._failing = False


def record_beat(session: Session, *, process: str, role: str, started_at: datetime) -> None:
    row = {"process": process, "role": role, "started_at": started_at, "pid": os.getpid(), "beat_at": func.now()}
    statement = insert(ProcessHeartbeat).values(row)
    session.execute(statement.on_conflict_do_update(index_elements=["process"], set_={"beat_at": func.now()}))
    session.execute(
        delete(ProcessHeartbeat).where(ProcessHeartbeat.beat_at < func.now() - text(f"interval '{FORGET_AFTER_S} s'"))
    )


def latest_beats(session: Session) -> dict[str, datetime]:
    """Each role's most recent heartbeat."""
    rows = session.execute(select(ProcessHeartbeat.role, func.max(ProcessHeartbeat.beat_at)).group_by("role"))
    return dict(rows.all())
