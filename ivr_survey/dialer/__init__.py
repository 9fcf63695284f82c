"""Outbound survey campaigns: when a contact may be called and how fast (pure, on an injected clock), what a
failed dial means, and the loop that originates the calls. It imports `service` and below, never another
adapter."""
