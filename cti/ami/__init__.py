"""Asterisk manager interface: wire format (``protocol``) and the panoramisk adapter (``client``).

May import only the standard library, panoramisk and ``cti.settings``; no domain code.
"""
