"""Terminal and Markdown reports; they read the store only."""
