"""The test suite (a regular package, so no installed top-level ``tests`` package, e.g. pyRAPL's, can shadow it)."""
