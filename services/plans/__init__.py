"""Plans service: owns the unit directory and the plans (kế hoạch) with their tasks."""
