"""Drop-in replacements for the two Azure Data Factory scripts cosmocopy started from.

``cosmosreplication`` (Cosmos to Cosmos) and ``cosmosbackuptoblob`` (Cosmos to Azure Blob
Storage) take the original scripts' options exactly: the same option strings, help texts and
required flags, parsed by argparse as before, so a cron line written for
``python cosmosbackuptoblob.py ...`` keeps working, abbreviations such as ``-ir`` included.
Both are installed as commands by the package and run as files too
(``python .../cosmocopy/dropin/cosmosreplication.py ...``).

What they do instead of building a Data Factory pipeline: the two connection strings stay in
the Key Vault named by ``-vault`` (the engine reads them with the service principal given by
``-tenantid``, ``-clientid`` and ``-clientsecret``), the copy runs here, through
:func:`cosmocopy.replicate` or :func:`cosmocopy.backup`, and the exit status says how it went:
0 copied, 1 the copy failed, 2 bad input (nothing touched), 130 interrupted (resumable).
``-incr yes`` is cosmocopy's catalog-driven incremental run in 4-hour windows, so a late,
failed or skipped run leaves no gap. The Data Factory options (``-s``, ``-g``, ``-d``,
``-irid``) are accepted and ignored.
"""

from __future__ import annotations

__all__: list[str] = []
