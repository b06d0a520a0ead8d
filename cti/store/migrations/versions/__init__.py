"""One Alembic revision per schema change, each reversible."""
