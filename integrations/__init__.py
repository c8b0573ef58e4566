"""Adapters, one per outside system; each implements a port from app.ports and raises IntegrationError."""
