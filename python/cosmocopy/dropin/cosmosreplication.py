"""cosmosreplication: copy one Cosmos DB (MongoDB API) collection into another, with the
command line of the Azure Data Factory script ``cosmosreplication.py``.

    cosmosreplication -s SUB -g RG -d DF -clientid ID -clientsecret SECRET -tenantid TENANT \\
        -vault https://NAME.vault.azure.net -sourcesecret SRC -sinksecret DST \\
        -sourcedb shop -sinkdb shop -sourcecollection orders -sinkcollection orders -incr yes

Both secrets hold Cosmos DB connection strings. Documents are upserted by ``_id`` (the
original's ``write_behavior='upsert'``); the checkpoint of completed windows lives in the
target database (collection ``cosmocopy``), so ``-incr yes`` continues from any machine.
Runs as a command (installed by the package) and as a file:
``python .../cosmocopy/dropin/cosmosreplication.py ...``.
"""

from __future__ import annotations

import sys

if not __package__:  # run as a file: find the package this file belongs to when needed
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("cosmocopy") is None:
        sys.path.append(str(Path(__file__).resolve().parents[2]))

import argparse  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import cosmocopy  # noqa: E402
from cosmocopy.dropin import _script  # noqa: E402
from cosmocopy.dropin._script import Option  # noqa: E402

# The original's options, in its order, with its help texts.
OPTIONS = (
    Option("-s", "--subscription", "Azure subscription id"),
    Option("-g", "--resourcegroup", "Azure Resource Group Name"),
    Option("-d", "--datafactory", "Azure DataFactory Name either to create or update"),
    Option("-clientid", "--clientid", "Service Principal Client ID"),
    Option("-clientsecret", "--clientsecret", "Service Principal Client Secret"),
    Option("-tenantid", "--tenantid", "Azure Tenant ID"),
    Option("-irid", "--integrationruntime", "Data factory Integration Runtime", required=False),
    Option("-vault", "--vaulturl", "Azure Key Vault URL in https://<>.vault.azure.net format"),
    Option("-sourcesecret", "--secretnameforsourceconnectionstring",
           "Secret Name for source connection string"),
    Option("-sinksecret", "--secretnameforsinkconnectionstring",
           "Secret Name for sink connection string"),
    Option("-sourcedb", "--sourcedatabasename", "Database Name in source cosmos"),
    Option("-sinkdb", "--sinkdatabasename", "Database Name for sink cosmos"),
    Option("-sourcecollection", "--sourcecollectionname", "Collection Name in source cosmos"),
    Option("-sinkcollection", "--sinkcollectionname", "Collection Name in sink cosmos"),
    Option("-incr", "--incremental", "Set to 'yes' for incremental backup", required=False),
)

WHAT = """\
Copies -sourcedb/-sourcecollection into -sinkdb/-sinkcollection, upserting each document by
_id, in 4-hour windows; the windows completed are recorded in the collection "cosmocopy" of
the sink database."""


# The keyword arguments copy() gives cosmocopy.replicate, as errors call them here.
FLAGS = {"source": "-sourcesecret", "db": "-sourcedb", "collection": "-sourcecollection",
         "target": "-sinksecret", "target_db": "-sinkdb", "target_collection": "-sinkcollection",
         "incremental": "-incr", "full": "-incr"}


def parser() -> argparse.ArgumentParser:
    return _script.make_parser(OPTIONS, WHAT)


def copy(args: argparse.Namespace, refs: _script.SecretRefs,
         progress: _script.ProgressLine | None) -> cosmocopy.Result:
    return cosmocopy.replicate(
        source=refs.source, db=args.sourcedatabasename, collection=args.sourcecollectionname,
        target=refs.sink, target_db=args.sinkdatabasename,
        target_collection=args.sinkcollectionname, write_mode="upsert", progress=progress,
        **_script.job_arguments(args))


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 copied, 1 the copy failed, 2 bad input, 130 interrupted."""
    return _script.main(parser(), argv, copy, written="bytes", flags=FLAGS)


if __name__ == "__main__":
    sys.exit(main())
