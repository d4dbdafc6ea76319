"""Networks between device and server: named profiles, real shaping with tc, the analytic model, radio energy."""
