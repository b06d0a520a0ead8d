"""Supervision: the live wallboard's figures, its alerts, and supervisors stepping into calls.

Pure code folds AMI events into figures; the service publishes them. Imports domain code
and the bus only.
"""
