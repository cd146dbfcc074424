"""The alert queue, an alert's page and its actions, and the response-time report (双向监管)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
