"""Key Vault references from Python: connection strings read from the Key Vault test server
(tests/support/keyvault.py) by the engine, tokens shared by every job of the process, each
failure raised as the exception of its kind, and no secret in an exception, a result or a log
record."""

from __future__ import annotations

import logging
import uuid

import pytest

import backupcheck as bc
import blobcheck
from keyvault import VAULT_RESOURCE

CREDENTIAL_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
                        "IDENTITY_HEADER", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "SSL_CERT_FILE")


@pytest.fixture
def principal(keyvault, monkeypatch):
    """A service principal, set in this process's environment as the engine reads it."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    sp = keyvault.add_service_principal()
    for name, value in keyvault.env_service_principal(sp).items():
        monkeypatch.setenv(name, value)
    return sp


def ref(kv, name):
    return f"kv://127.0.0.1:{kv.port}/{name}"


def test_jobs_of_one_process_share_their_tokens(cc, orders, window_args, keyvault, principal,
                                                ferretdb, tmp_path, caplog):
    mark = "kvsecret" + uuid.uuid4().hex
    keyvault.set_secret("src", f"{ferretdb.uri}?appName={mark}")
    args = dict(window_args, source=ref(keyvault, "src"), https_ca_file=keyvault.ca_file)
    with caplog.at_level(logging.DEBUG, logger="cosmocopy"):
        first = cc.backup(to=tmp_path / "a", **args)
        second = cc.backup(to=tmp_path / "b", **args)
    assert first.windows_written == 3 and second.windows_written == 3
    bc.assert_backup_matches(tmp_path / "b", orders.database, ["orders"])
    # the second job found the token (and the vault's challenge) the first one got
    assert keyvault.tokens_issued(principal.client_id, VAULT_RESOURCE) == 1
    assert keyvault.count("secrets", 401) == 1
    for text in (repr(first), str(first.to_dict()), caplog.text):
        assert mark not in text and principal.secret not in text


def test_each_failure_raises_its_kind_without_the_secret(cc, window_args, keyvault, principal,
                                                         ferretdb, tmp_path, monkeypatch):
    keyvault.set_secret("src", ferretdb.uri)
    args = dict(window_args, https_ca_file=keyvault.ca_file)
    with pytest.raises(cc.NotFoundError) as missing:
        cc.backup(to=tmp_path / "a", **dict(args, source=ref(keyvault, "nosuch")))
    assert str(missing.value).endswith(
        f"secret nosuch not found in Key Vault 127.0.0.1:{keyvault.port}")
    assert isinstance(missing.value, LookupError) and missing.value.cause == 404
    keyvault.disable_secret("src")
    with pytest.raises(cc.AuthenticationError) as disabled:
        cc.backup(to=tmp_path / "a", **dict(args, source=ref(keyvault, "src")))
    assert "secret src in Key Vault" in str(disabled.value) and "is disabled" in str(disabled.value)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret-" + uuid.uuid4().hex)
    with pytest.raises(cc.AuthenticationError) as refused:
        cc.backup(to=tmp_path / "a", **dict(args, source=ref(keyvault, "other")))
    assert "(AADSTS7000215)" in str(refused.value)
    assert "not-the-secret-" not in str(refused.value) + repr(refused.value)
    with pytest.raises(cc.UsageError) as malformed:
        cc.backup(to=tmp_path / "a", **dict(args, source="kv://myvault"))
    assert "names no secret" in str(malformed.value)


def test_replica_and_blob_connection_string_references(cc, orders, window_args, keyvault,
                                                       principal, ferretdb, mongo, azurite,
                                                       blob_container):
    keyvault.set_secret("dst", ferretdb.uri)
    keyvault.set_secret("storage", azurite.connection_string)
    target_db = orders.database.name + "_r"
    try:
        cc.replicate(target=ref(keyvault, "dst"), target_db=target_db,
                     https_ca_file=keyvault.ca_file, **window_args)
        assert mongo[target_db].orders.count_documents({}) == 1200
        # verify's backup= tells a replica's reference from a backup location
        verified = cc.verify(backup=ref(keyvault, "dst"), target_db=target_db,
                             https_ca_file=keyvault.ca_file, **window_args)
        assert verified.windows_verified == 3
    finally:
        mongo.drop_database(target_db)
    to = f"azblob://{blob_container.container_name}/kv"
    cc.backup(to=to, blob_connection_string=ref(keyvault, "storage"),
              https_ca_file=keyvault.ca_file, **window_args)
    blobcheck.assert_blob_backup_matches(blob_container, "kv", orders.database, ["orders"])
    listing = cc.list_windows(to, blob_connection_string=ref(keyvault, "storage"),
                              https_ca_file=keyvault.ca_file)
    assert len(listing.windows) == 3
    assert sum(1 for _ in listing.windows[0].read()) == listing.windows[0].documents
