"""An independent reader of cosmocopy backups in Azure Blob Storage, for tests.

The blob sink writes the folder layout as blob names:
``PREFIX/<db>/<coll>/<window data>``, ``<...>.manifest.json`` and
``metadata.json`` (``<db>/<coll>/...`` when PREFIX is empty). This module
lists and downloads them with azure-storage-blob only and runs exactly the
checks of backupcheck.py (same code, through ``BlobStore``), so it shares no
code with the engine either:

    backup = blobcheck.read_blob_backup(container_client, "nightly")
    backupcheck.assert_same_docs(backup.docs(db, "orders"),
                                 backupcheck.source_docs(mongo[db]["orders"]))
    blobcheck.assert_blob_backup_matches(container_client, "nightly", mongo[db])

Window paths in the returned Backup are ``PurePosixPath`` names
``<container>/<blob name>``; ``Window.read_stored()`` downloads a data blob
again.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Iterable

import backupcheck as bc


def _norm_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


class BlobStore:
    """A container and a prefix seen as a backupcheck store. Lists once,
    at construction; reads download on demand."""

    def __init__(self, container_client, prefix: str = ""):
        self.container = container_client
        self.prefix = _norm_prefix(prefix)
        self.root = PurePosixPath(container_client.container_name) / self.prefix.rstrip("/")
        self._names: dict[tuple[str, str], list[str]] = {}
        for blob in container_client.list_blobs(name_starts_with=self.prefix or None):
            parts = blob.name[len(self.prefix):].split("/")
            # Only <db>/<coll>/<name>, as the folder reader looks only there.
            if len(parts) == 3 and all(parts):
                key = (bc.name_of_folder(parts[0]), bc.name_of_folder(parts[1]))
                self._names.setdefault(key, []).append(parts[2])

    def blob_name(self, db: str, coll: str, name: str) -> str:
        return f"{self.prefix}{bc.folder_name(db)}/{bc.folder_name(coll)}/{name}"

    def collections(self) -> list[tuple[str, str]]:
        return sorted(self._names)

    def names(self, db: str, coll: str) -> list[str]:
        return sorted(self._names.get((db, coll), []))

    def read(self, db: str, coll: str, name: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(self.blob_name(db, coll, name)).readall()
        except ResourceNotFoundError:
            return None

    def where(self, db: str, coll: str, name: str = "") -> PurePosixPath:
        path = (PurePosixPath(self.container.container_name) / self.prefix.rstrip("/")
                / bc.folder_name(db) / bc.folder_name(coll))
        return path / name if name else path


def read_blob_backup(container_client, prefix: str = "") -> bc.Backup:
    """Read and check every manifest under ``prefix`` in the container
    (azure.storage.blob.ContainerClient), as backupcheck.read_backup does
    for a folder."""
    return bc.read_store(BlobStore(container_client, prefix))


def assert_blob_backup_matches(container_client, prefix: str, client_db,
                               collections: Iterable[str] | None = None,
                               predicate=None) -> bc.Backup:
    """backupcheck.assert_backup_matches for a blob backup."""
    return bc.assert_matches(read_blob_backup(container_client, prefix), client_db,
                             collections, predicate)
