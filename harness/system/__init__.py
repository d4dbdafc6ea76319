"""Machine state, one home: what runs record of the machine, what they sample, and ``arbench system show|tune``.

Recorded: CPU and its instruction set, board, thermal zones, software, model fingerprints; sampled while a
run runs: frequencies, utilization, temperatures, throttling.
"""
