"""`arbench serve`: the offload server (the "cloud"), running the same stage code over HTTP."""
