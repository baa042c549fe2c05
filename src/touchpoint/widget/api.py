"""Placeholder router; the widget endpoints are built in this module."""

from fastapi import APIRouter

router = APIRouter(tags=["widget"])
