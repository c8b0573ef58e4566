"""The embedded-default demo: sample tickets through the whole loop on a fresh machine."""
