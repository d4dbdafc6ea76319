"""The result store: schema, crash-safe writer, reader into pandas, summaries."""
