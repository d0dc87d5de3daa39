"""The Python package's candidate of scenario ``backup_folder`` (``run.py --python``).

    python bench/py_backup.py backup KWARGS_JSON   # cosmocopy.backup(**kwargs), summary on stdout
    python bench/py_backup.py import               # only start the interpreter and import cosmocopy
    python bench/py_backup.py bare                 # only start the interpreter

``backup`` imports ``cosmocopy`` from ``build/python`` (the development tree ``./run build``
makes) and calls ``cosmocopy.backup(**kwargs)`` with the keyword arguments ``run.py`` derived
from the command line of the ``cosmocopy backup`` candidate (``python_kwargs`` there), then
prints the result as ``cosmocopy backup --json`` would (``Result.to_dict()``). A failed backup
prints the partial result and exits with status 1.

``import`` and ``bare`` measure the fixed cost of the package that does not depend on the
data: the interpreter's start (``bare``) and that plus ``import cosmocopy`` (``import``, which
also loads the extension module and initialises libmongoc). Nothing but ``sys`` is imported
before the mode is known, so ``bare`` is the interpreter alone.

Run as a child of ``bench/spawn.py``, like the other candidates, so ``wait4`` measures it.
"""

import sys


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else ""
    if mode == "bare":
        return 0
    if mode not in ("import", "backup") or (mode == "backup") != (len(argv) == 2):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    import os.path

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                    "python"))
    import cosmocopy

    if mode == "import":
        return 0

    import json

    kwargs = json.loads(argv[1])
    try:
        result = cosmocopy.backup(**kwargs)
    except cosmocopy.Error as e:
        print(json.dumps(e.result.to_dict() if e.result is not None else None))
        print(f"py_backup: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
