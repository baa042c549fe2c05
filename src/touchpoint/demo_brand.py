"""Harbour Stays' own booking and billing system, as a small HTTP service: the brand's side of the demo.

The demo workspace's flows (src/touchpoint/demo_data/flows) call it exactly as they would call a real
brand's API: reservations and changes to them, bill balances, booking status and payment-link creation.
It is mounted only by `touchpoint demo` (create_app(demo=True)), under /demo-brand. Data is deterministic
for the demo contacts (dates relative to today); changes live in memory until the process restarts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PREFIX = "/demo-brand"
MAX_NIGHTS = 14
# Days of the year the hotel is full (month, day): changes that include one are refused (409).
FULL = {(12, 24), (12, 25), (12, 31)}


@dataclass(frozen=True)
class Reservation:
    reference: str
    guest: str
    arrival_offset: int  # days from today
    nights: int
    room: str
    status: str  # confirmed | checked_in | checked_out | pending_deposit
    balance_cents: int
    arrival: date | None = None  # set once changed


RESERVATIONS = {r.reference: r for r in (
    Reservation("HB-1234", "Ana Silva", 21, 2, "Garden room", "confirmed", 0),
    Reservation("HB-2345", "Tom Baker", -1, 3, "Sea view room", "checked_in", 18250),
    Reservation("HB-3456", "Yuki Tanaka", 40, 4, "6 rooms (group)", "pending_deposit", 120000),
    Reservation("HB-4567", "Omar Haddad", -10, 2, "Garden room", "checked_out", 3500),
)}
STATUS_TEXT = {
    "confirmed": "Confirmed: {room}, arriving {arrival} for {nights} nights. Check-in is from 3 pm.",
    "checked_in": "You're checked in: {room} until {departure}. Check-out is by 11 am.",
    "checked_out": "Checked out on {departure}. Thank you for staying with us!",
    "pending_deposit": "Provisional: {room}, arriving {arrival} for {nights} nights. We're waiting for the "
                       "deposit to confirm it.",
}


@dataclass
class BrandStore:
    reservations: dict[str, Reservation] = field(default_factory=lambda: dict(RESERVATIONS))
    today: Any = None  # a callable returning today's date (tests pin it)

    def current_day(self) -> date:
        return self.today() if self.today else date.today()

    def find(self, reference: str) -> Reservation | None:
        return self.reservations.get(normalize_reference(reference))

    def arrival(self, reservation: Reservation) -> date:
        return reservation.arrival or self.current_day() + timedelta(days=reservation.arrival_offset)


def normalize_reference(reference: str) -> str:
    match = re.fullmatch(r"\s*hb[\s-]?(\d{4})\s*", reference, re.IGNORECASE)
    return f"HB-{match[1]}" if match else reference.strip().upper()


def _show(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


def _money(cents: int, currency: str = "EUR") -> str:
    return f"{cents // 100:,}.{cents % 100:02d} {currency}"


def _missing(reference: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "message": f"no booking {reference}"}, status_code=404)


class ChangeRequest(BaseModel):
    arrival: date
    nights: int = Field(ge=1, le=60)


class LinkRequest(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    amount_cents: int = Field(ge=1, le=10**9)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


def build_router(store: BrandStore | None = None) -> APIRouter:
    """A router with its own store (tests build one each; the demo server uses the module's `router`)."""
    store = store or BrandStore()
    router = APIRouter(prefix=PREFIX, tags=["demo brand"], include_in_schema=False)

    def describe(reservation: Reservation) -> dict[str, Any]:
        arrival = store.arrival(reservation)
        departure = arrival + timedelta(days=reservation.nights)
        values = {"room": reservation.room, "arrival": _show(arrival), "departure": _show(departure),
                  "nights": reservation.nights}
        return {"reference": reservation.reference, "guest": reservation.guest, "arrival": arrival.isoformat(),
                "departure": _show(departure), "nights": reservation.nights, "room": reservation.room,
                "status": reservation.status, "status_text": STATUS_TEXT[reservation.status].format(**values)}

    @router.get("/reservations/{reference}")
    async def get_reservation(reference: str) -> Any:
        reservation = store.find(reference)
        return describe(reservation) if reservation else _missing(reference)

    @router.post("/reservations/{reference}/change")
    async def change_reservation(reference: str, body: ChangeRequest) -> Any:
        reservation = store.find(reference)
        if reservation is None:
            return _missing(reference)
        if reservation.status in ("checked_in", "checked_out"):
            return JSONResponse({"error": "not_changeable", "message": f"booking is {reservation.status}"},
                                status_code=409)
        nights = [body.arrival + timedelta(days=n) for n in range(body.nights)]
        if body.arrival < store.current_day() or body.nights > MAX_NIGHTS \
                or any((day.month, day.day) in FULL for day in nights):
            return JSONResponse({"error": "no_availability", "message": "no room for those dates"}, status_code=409)
        changed = replace(reservation, arrival=body.arrival, nights=body.nights)
        store.reservations[changed.reference] = changed
        return describe(changed)

    @router.get("/bills/{reference}")
    async def get_bill(reference: str) -> Any:
        reservation = store.find(reference)
        if reservation is None:
            return _missing(reference)
        if reservation.balance_cents <= 0:
            return JSONResponse({"error": "nothing_to_pay", "reference": reservation.reference}, status_code=409)
        return {"reference": reservation.reference, "guest": reservation.guest,
                "balance_cents": reservation.balance_cents, "currency": "EUR",
                "balance_text": _money(reservation.balance_cents)}

    @router.get("/status/{reference}")
    async def get_status(reference: str) -> Any:
        reservation = store.find(reference)
        return describe(reservation) if reservation else _missing(reference)

    @router.post("/payment-links")
    async def create_payment_link(body: LinkRequest) -> Any:
        token = hashlib.sha256(f"{body.reference}:{body.amount_cents}:{body.currency}".encode()).hexdigest()[:20]
        return {"url": f"https://pay.harbour.example/p/{token}", "reference": body.reference,
                "amount_cents": body.amount_cents, "currency": body.currency}

    return router


router = build_router()
