"""Messages on every channel but voice: SMS and email in and out."""
