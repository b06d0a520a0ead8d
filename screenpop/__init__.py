"""Screen-pops: the WebSocket hub and the browser pages for agents, supervisors and admins."""
