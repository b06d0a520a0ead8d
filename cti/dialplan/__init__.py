"""Asterisk dialplans: parsing, pbx_config's loading rules, checks, rendering (all pure).

``service.py`` is the editor's I/O glue (files, ``cti.store``, the AMI client); every
other module imports only the standard library and its neighbours here.
"""
