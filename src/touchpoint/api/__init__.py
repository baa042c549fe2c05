"""REST API /api/v1 with per-workspace API keys."""
