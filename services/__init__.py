"""The four services; each owns its schema and talks to the others only through events."""
