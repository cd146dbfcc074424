"""The auditor's view: alert history, the audit log, track access and the chain's status. Read-only."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
