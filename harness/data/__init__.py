"""Data shipped with the package: the sign phrasebook."""
