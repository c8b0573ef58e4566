"""Admin dashboard: deliveries, parked failures with replay, and the sandbox desk view."""
