"""Email that survives an SMTP outage: written with its cause, delivered in the background."""
