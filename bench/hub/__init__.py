"""Hub benchmark: simulated members against the hub and a naive per-pose fan-out."""
