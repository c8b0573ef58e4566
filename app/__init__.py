"""Support triage: webhook intake, triage engine and helpdesk write-back."""
