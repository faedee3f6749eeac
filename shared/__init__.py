"""What two or more services share: event contracts, settings, bus/outbox/inbox machinery,
database sessions, telemetry, clock, periods and timelines. No service code lives here."""
