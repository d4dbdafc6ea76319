"""The result store: it owns the record (schema and versions, the stage-span rule), writes, reads and summarizes it.

Features add their own summary columns by registering them (``harness.store.columns``).
"""
