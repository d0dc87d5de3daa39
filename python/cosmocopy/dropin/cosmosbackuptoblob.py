"""cosmosbackuptoblob: back up one Cosmos DB (MongoDB API) collection into an Azure Blob
Storage container, with the command line of the Azure Data Factory script
``cosmosbackuptoblob.py``.

    cosmosbackuptoblob -s SUB -g RG -d DF -clientid ID -clientsecret SECRET -tenantid TENANT \\
        -vault https://NAME.vault.azure.net -sourcesecret SRC -sinksecret STORAGE \\
        -sourcedb shop -sourcecollection orders -sinkblob backups -incr yes

The source secret holds a Cosmos DB connection string, the sink secret a Storage account
connection string. The container must exist (as it had to for the original). Each 4-hour
window becomes ``<db>/<collection>/<start>_<end>.bson`` (a mongodump file) with its
``.manifest.json``; ``-sinkblob CONTAINER/PREFIX`` puts them under a prefix. Runs as a command
(installed by the package) and as a file: ``python .../cosmocopy/dropin/cosmosbackuptoblob.py``.
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
           "Secret Name for Storage connection string"),
    Option("-sourcedb", "--sourcedatabasename", "Database Name in source cosmos"),
    Option("-sourcecollection", "--sourcecollectionname", "Collection Name in source cosmos"),
    Option("-sinkblob", "--sinkcontainername", "Container Name in sink storage"),
    Option("-incr", "--incremental", "Set to 'yes' for incremental backup", required=False),
)

WHAT = """\
Backs up -sourcedb/-sourcecollection into the existing container -sinkblob (CONTAINER or
CONTAINER/PREFIX), one blob per 4-hour window: <db>/<collection>/<start>_<end>.bson (as
mongodump writes it) and its .manifest.json, which records the window as complete."""


# The keyword arguments copy() gives cosmocopy.backup, as errors call them here.
FLAGS = {"source": "-sourcesecret", "db": "-sourcedb", "collection": "-sourcecollection",
         "to": "-sinkblob", "blob_connection_string": "-sinksecret", "incremental": "-incr",
         "full": "-incr"}


def parser() -> argparse.ArgumentParser:
    return _script.make_parser(OPTIONS, WHAT)


def copy(args: argparse.Namespace, refs: _script.SecretRefs,
         progress: _script.ProgressLine | None) -> cosmocopy.Result:
    return cosmocopy.backup(
        source=refs.source, db=args.sourcedatabasename, collection=args.sourcecollectionname,
        to=f"azblob://{args.sinkcontainername}", blob_connection_string=refs.sink,
        create_container=False, progress=progress, **_script.job_arguments(args))


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 copied, 1 the copy failed, 2 bad input, 130 interrupted."""
    return _script.main(parser(), argv, copy, written="stored_bytes", flags=FLAGS)


if __name__ == "__main__":
    sys.exit(main())
