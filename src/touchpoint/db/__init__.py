"""Storage: engine and sessions, the declarative base, dialect helpers, Alembic migrations."""
