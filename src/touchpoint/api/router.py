"""Placeholder router; /api/v1 is assembled here."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
