"""Routing: each call's likely reason to the best agent, by rules admins edit."""
