"""The zone editor and travel leave (请假外出)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
