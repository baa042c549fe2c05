"""The API docs page works without any CDN: its assets are ours."""

from __future__ import annotations

import re

from tests.support.harness import running


async def test_docs_page_uses_vendored_assets_that_load(settings):
    async with running(settings, run_background=False) as h:
        page = await h.client.get(f"{h.base_url}/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/static/vendor/swagger-ui/") for a in assets if not a.startswith("data:"))
        for asset in assets:
            assert (await h.client.get(f"{h.base_url}{asset}")).status_code == 200
        spec = (await h.client.get(f"{h.base_url}/openapi.json")).json()
        assert "/api/v1/contacts" in spec["paths"]
