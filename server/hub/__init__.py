"""The WebSocket hub: the endpoint and its ticks (`service`), one client (`connection`), one hall's
presence and tour (`hall`), who sees whom (`interest`), the wire messages (`messages`), and the
Redis backend for several workers (`redis_backend`)."""
