"""The SWIG-generated layer (``engine`` and its extension module ``_engine``).

Private: the public API is the ``cosmocopy`` package, which wraps this one.
"""
