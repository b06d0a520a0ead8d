"""A PBX simulator speaking Asterisk 22's AMI and FastAGI exactly as the recordings show.

Used by ``cti demo`` and the tests; imports only ``cti.ami.protocol`` and the standard library.
"""
