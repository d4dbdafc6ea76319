"""A run: experiment file → configurations → the frame loop of each, isolated, into a run directory.

``experiment`` (the TOML matrix), ``preflight`` (every configuration error before a run directory
exists), ``orchestrate`` (the run directory, rounds, the manifest), ``isolation`` (one forked worker per
configuration, with a watchdog), ``runner`` (one configuration: warm-up, stopping rule, records),
``scenarios`` (how frames arrive), ``stopping`` and ``progress``.
"""
