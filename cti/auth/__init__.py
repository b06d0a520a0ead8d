"""Users, roles, passwords, login tokens and the login rate limiter.

``model``, ``tokens``, ``ratelimit`` and ``passwords`` are pure or CPU-bound logic;
``service`` adds storage (``cti.store``). Never imports the HTTP edge.
"""
