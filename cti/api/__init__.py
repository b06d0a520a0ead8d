"""HTTP edge: FastAPI routers, authentication dependencies, error mapping.

Imports domains and services; nothing imports it but ``cti.app``.
"""
