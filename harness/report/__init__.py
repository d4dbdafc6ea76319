"""Reports from stored runs: terminal and Markdown tables, paper figures and their tables, report.html, comparisons."""
