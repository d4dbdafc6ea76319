"""Machine-translation backends behind one small interface (base.MtBackend)."""
