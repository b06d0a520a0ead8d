"""Contacts: who a caller or sender is. Number and address normalisation is pure code here.

Imports only the standard library and ``phonenumbers``; storage lives in ``cti.store``.
"""
