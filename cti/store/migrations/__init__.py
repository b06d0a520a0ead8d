"""Alembic migrations of the server's database; run them with ``cti db upgrade``."""
