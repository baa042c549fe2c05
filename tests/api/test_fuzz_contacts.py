"""Property: whatever JSON a caller posts to POST /api/v1/contacts, the answer is never a 500, and every
error is JSON with a stable code."""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.api.support import api_for
from tests.support.harness import running
from touchpoint.contacts.schemas import LOCALE, PHONE

FIELDS = ["name", "email", "phone", "external_ref", "timezone", "locale", "attributes"]
# Characters databases and JSON encoders trip over, mixed into otherwise ordinary text.
NASTY = st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028", "%", "_", "'", '"', "\\", "Europe/Lisbon",
                         "../../etc/passwd", "a@b.co", "+351 912", "pt-PT", "UTC", "\U0001f642"])
TEXT = st.one_of(st.text(max_size=40), NASTY, st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=4).map("".join),
                 st.text(min_size=190, max_size=330))
NUMBER = st.one_of(st.integers(), st.integers(min_value=2**63 - 2, max_value=2**70), st.floats(allow_nan=True))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
# Mostly plausible bodies (valid values or nasty strings where strings belong), so that bodies get past
# the type checks and reach the field validators and the database; some wholly random JSON as well.
PLAUSIBLE = {
    "email": st.emails(),
    "phone": st.from_regex(PHONE, fullmatch=True),
    "timezone": st.one_of(st.sampled_from(["UTC", "Europe/Lisbon"]), st.timezone_keys()),
    "locale": st.from_regex(LOCALE, fullmatch=True),
    "attributes": st.dictionaries(TEXT, JSON, max_size=4),
}
CONTACT_LIKE = st.fixed_dictionaries({}, optional={
    name: st.one_of(PLAUSIBLE.get(name, TEXT), PLAUSIBLE.get(name, TEXT), TEXT, JSON) for name in FIELDS})
BODY = st.one_of(CONTACT_LIKE, CONTACT_LIKE, st.dictionaries(st.sampled_from([*FIELDS, "id", "workspace_id"]), SCALAR),
                 JSON)


async def test_post_contacts_never_answers_500(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        url = f"{h.base_url}/api/v1/contacts"

        @hypothesis_settings(max_examples=200, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(body=BODY)
        @example(body={"name": "nul\x00"})
        @example(body={"attributes": {"k": "\x00", "n": float("nan")}})
        @example(body={"external_ref": "\ud800", "timezone": "../../etc/passwd"})
        def property_holds(body):
            # json.dumps, not httpx's encoder: we want NaN, Infinity and lone surrogates on the wire.
            raw = json.dumps(body).encode()
            with httpx.Client(timeout=10) as client:
                response = client.post(url, content=raw, headers=api.headers({"content-type": "application/json"}))
            assert response.status_code != 500, (raw[:300], response.text[:300])
            assert response.status_code in (201, 409, 422), (raw[:300], response.status_code, response.text[:300])
            if response.status_code != 201:
                assert response.json()["error"]["code"] in ("validation_error", "contact_exists")

        # The server runs on this event loop; Hypothesis drives it from a thread with a blocking client.
        await asyncio.to_thread(property_holds)
