"""Trajectory replay and the track's exports (GPX, GeoJSON, a printable map document)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
