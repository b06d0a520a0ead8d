"""Reports: calls by queue, hour, reason and channel, agent performance and CSAT, as figures.

Pure code over already-grouped rows (ranges, time zones, tallies, derived figures, CSV);
imports only the standard library. The SQL that groups the rows lives in ``cti.store.reports``.
"""
