"""Workspaces: tenants, their settings, API keys, agents and teams, and the audit log."""
