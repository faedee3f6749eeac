"""Reports service: owns read models built from events (units, assignments, progress) and the
roll-ups up the unit tree."""
