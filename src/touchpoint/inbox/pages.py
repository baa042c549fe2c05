"""Placeholder router; inbox pages are built here."""

from fastapi import APIRouter

router = APIRouter(tags=["inbox"])
