"""Prometheus metrics: one registry per app, counters fed by the store's writes and the HTTP middleware, and a
collector that reads the adapters' plain attributes at scrape time (the adapters never import this package)."""
