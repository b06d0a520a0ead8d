"""Asterisk configuration files: parsing (pure) and, later, validation and rendering.

Imports only the standard library.
"""
