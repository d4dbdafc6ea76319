"""System telemetry sampled alongside energy: frequencies, utilization, temperatures, RSS, throttling."""
