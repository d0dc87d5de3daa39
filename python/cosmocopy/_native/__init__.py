"""The SWIG-generated layer (``engine`` and its extension module ``_engine``).

Private: the public API is the ``cosmocopy`` package, which wraps this one. ``api`` is the
generated module, typed ``Any`` for the type checker (SWIG writes no annotations).
"""

import importlib
from typing import Any

api: Any = importlib.import_module(".engine", __name__)
