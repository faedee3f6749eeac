"""Tasks service: owns assignments (task × responsible unit × period), progress reports and
overdue state."""
