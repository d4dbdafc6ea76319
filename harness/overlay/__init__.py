"""The AR overlay: erase the source text, draw the translation fitted into its quad."""
