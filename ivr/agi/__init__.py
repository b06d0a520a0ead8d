"""FastAGI: the wire format (``protocol``, pure) and the asyncio server (``server``).

Imports only the standard library; the IVR flow builds on it.
"""
