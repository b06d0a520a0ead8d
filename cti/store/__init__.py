"""Relational storage: SQLAlchemy models, Alembic migrations and repositories.

May import domain models; never imported by pure domain code.
"""
