"""Every table the migrations manage, gathered from the domains, and what autogenerate ignores."""

import re

from geoalchemy2 import alembic_helpers

import alerts.models
import caseload.models
import geofence.models
import rollcall.models
import tracker_ingest.models
from core import audit, dlq, heartbeat
from core.db import Base

target_metadata = Base.metadata
# Imported for their side effect of registering tables on the metadata.
DOMAIN_MODELS = (
    audit,
    dlq,
    heartbeat,
    caseload.models,
    tracker_ingest.models,
    geofence.models,
    alerts.models,
    rollcall.models,
)

# Day partitions of `fix` are created at run time, not by revisions.
FIX_PARTITION = re.compile(r"^fix_p\d{8}$")
POSTGIS_TABLES = {"spatial_ref_sys", "layer", "topology"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and (name in POSTGIS_TABLES or (name and FIX_PARTITION.match(name))):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
