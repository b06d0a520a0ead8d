"""The ``cti`` command line."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Callfold: contact-center telephony integration server for Asterisk."""
