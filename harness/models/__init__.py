"""Models: the manifest (models/manifest.toml), verification, resolution for backends, recipes and fetch.

``manifest`` (entries, roots, lookup), ``verify`` (pinned sha256 and size, whole-file checks),
``resolve`` (what a backend asks for → verified files, once, in preflight), ``fetch`` (OPUS-MT for users
with internet) and ``recipes/`` (build, quantize, convert, train, evaluate the project's own models).
"""
