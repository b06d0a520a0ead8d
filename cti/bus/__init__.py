"""Event bus: one interface, an in-process implementation and a Redis one.

Imports nothing from other domains; carries JSON-ready dicts.
"""
