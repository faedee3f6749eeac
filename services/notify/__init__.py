"""Notify service: owns notifications (the in-app inbox for now) and, later, their deliveries."""
