"""Supervisees' pages: the list, one person's page, registering their phone."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
