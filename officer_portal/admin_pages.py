"""Caseload administration: officers, districts, gateways and cameras."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
