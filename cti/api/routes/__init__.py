"""One router per area: health, auth, calls, users."""
