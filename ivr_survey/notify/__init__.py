"""Events out: the outbox's events made from stored answers (events, listener), the targets that take them
(webhook, Telegram) and the sender that delivers them with retries."""
