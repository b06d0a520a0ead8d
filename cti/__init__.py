"""Callfold: contact-center telephony integration server for Asterisk.

Sub-packages are domains (``ami``, ``calls``, ``bus``, ``store``, ``api``, ``pbxsim``);
``cti.app`` is the one place that assembles them.
"""

__version__ = "0.1.0"
