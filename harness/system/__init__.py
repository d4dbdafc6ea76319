"""Environment capture: CPU, thermal, board, software versions, model fingerprints."""
