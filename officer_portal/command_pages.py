"""The command-centre view: districts, officers' open and overdue alerts, platform alerts."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
