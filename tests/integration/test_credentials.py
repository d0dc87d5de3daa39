"""Key Vault references and Microsoft Entra ID credentials, end to end: connection strings read
from the Key Vault test server (tests/support/keyvault.py) with a service principal, workload
identity or a managed identity (App Service, IMDS, user-assigned), Blob Storage with Entra ID
tokens against Azurite in its OAuth mode, each bad input with its message and exit code, and
no secret anywhere a person or a file could see it."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential

import backupcheck as bc
import blobcheck
import clirun
import datagen
from keyvault import STORAGE_RESOURCE, VAULT_RESOURCE

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 5) * DAY

# Everything a credential could come from, emptied so that only what a test sets counts (the
# engine takes an empty variable as unset).
NO_CREDENTIALS = {name: "" for name in (
    "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_STORAGE_CONNECTION_STRING", "SSL_CERT_FILE")}


@pytest.fixture
def orders(mongo, db_name):
    """300 documents over 8 hours, five days ago: two 4-hour windows."""
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, START, START + 8 * HOUR, 300, doc_size=512, seed=301,
                          keep_ids=False)
    return coll


@pytest.fixture
def principal(keyvault):
    """A service principal of the vault's tenant, and the environment that names it."""
    sp = keyvault.add_service_principal()
    return sp, {**NO_CREDENTIALS, **keyvault.env_service_principal(sp)}


def marked(uri: str) -> tuple[str, str]:
    """The connection string with a marker no output may show, and the marker."""
    mark = "kvsecret" + uuid.uuid4().hex
    sep = "&" if "?" in uri else ("?" if uri.endswith("/") else "/?")
    return f"{uri}{sep}appName={mark}", mark


def ref(kv, name: str, version: str | None = None) -> str:
    return f"kv://127.0.0.1:{kv.port}/{name}" + (f"/{version}" if version else "")


def window_args(coll):
    return ["--collection", coll.name, "--step", "4h", "--from", bc.rfc3339(START),
            "--to", bc.rfc3339(START + 8 * HOUR), "--parallel", "2"]


def backup(kv, source, coll, dest, *extra, env):
    return clirun.run("backup", "--source", source, "--db", coll.database.name, "--to", dest,
                      *window_args(coll), "--https-ca-file", kv.ca_file, "--json", *extra,
                      env=env)


def files_under(root) -> str:
    return "".join(p.read_text(errors="replace") for p in Path(root).rglob("*") if p.is_file()
                   and p.suffix == ".json")


def assert_nowhere(res: clirun.Result, *secrets: str, root=None) -> None:
    written = files_under(root) if root else ""
    for secret in secrets:
        assert secret not in res.stdout and secret not in res.stderr, res.explain()
        assert secret not in written, f"{secret} is in a manifest or metadata file"


def assert_fails(res: clirun.Result, rc: int, code: str, message: str) -> None:
    assert res.rc == rc, res.explain()
    assert res.stderr.rstrip("\n").endswith(message), res.explain()
    summary = res.summary
    assert summary["status"] == "failed", res.explain()
    assert summary["error"]["code"] == code, res.explain()


class IdentityEndpoint:
    """An App Service identity endpoint that answers every request with one given token (from
    KeyVaultServer.mint_token): a managed identity that hands out the wrong token."""

    def __init__(self, token: str):
        body = json.dumps({"access_token": token, "token_type": "Bearer",
                           "expires_on": str(int(time.time()) + 3600)}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def env(self) -> dict:
        return {**NO_CREDENTIALS,
                "IDENTITY_ENDPOINT": f"http://127.0.0.1:{self.server.server_address[1]}/msi/token",
                "IDENTITY_HEADER": "any"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ connection strings from the vault


def test_backup_reads_its_source_from_key_vault_and_shows_it_nowhere(ferretdb, orders, keyvault,
                                                                     principal, tmp_path):
    sp, env = principal
    value, mark = marked(ferretdb.uri)
    keyvault.set_secret("src", value)
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk", env=env)
    assert res.rc == 0, res.explain()
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])
    assert res.summary["windows_written"] == 2
    # the first request had no token, the vault's challenge said which one; one token request
    assert keyvault.count("secrets") == 2 and keyvault.count("secrets", 401) == 1
    assert keyvault.tokens_issued(sp.client_id, VAULT_RESOURCE, "aad") == 1
    assert_nowhere(res, mark, value, sp.secret, root=tmp_path / "bk")


def test_the_secret_url_and_a_version_name_one_secret_of_several(ferretdb, orders, keyvault,
                                                                principal, tmp_path):
    _, env = principal
    old = keyvault.set_secret("src", ferretdb.uri)
    keyvault.set_secret("src", f"mongodb://127.0.0.1:{clirun.closed_port()}/")  # the latest
    latest = backup(keyvault, keyvault.secret_url("src"), orders, f"dir:{tmp_path}/a",
                    "--server-timeout-ms", "1000", "--retry-budget", "0", env=env)
    assert latest.rc == 1, latest.explain()
    assert "127.0.0.1" in latest.stderr and "cannot reach" in latest.stderr, latest.explain()
    pinned = backup(keyvault, keyvault.secret_url("src", old), orders, f"dir:{tmp_path}/b",
                    env=env)
    assert pinned.rc == 0, pinned.explain()
    bc.assert_backup_matches(tmp_path / "b", orders.database, ["orders"])
    by_kv = backup(keyvault, ref(keyvault, "src", old), orders, f"dir:{tmp_path}/c", env=env)
    assert by_kv.rc == 0, by_kv.explain()


def test_replicate_reads_source_and_target_from_key_vault_with_one_token(ferretdb, orders, mongo,
                                                                        keyvault, principal):
    sp, env = principal
    source, source_mark = marked(ferretdb.uri)
    target, target_mark = marked(ferretdb.uri)
    keyvault.set_secret("src", source)
    keyvault.set_secret("dst", target)
    target_db = orders.database.name + "_replica"
    try:
        res = clirun.run("replicate", "--source", ref(keyvault, "src"), "--db",
                         orders.database.name, "--target", ref(keyvault, "dst"), "--target-db",
                         target_db, *window_args(orders), "--https-ca-file", keyvault.ca_file,
                         "--json", env=env)
        assert res.rc == 0, res.explain()
        assert mongo[target_db].orders.count_documents({}) == 300
        assert res.summary["target"] == ref(keyvault, "dst")
        # one token for both secrets: the second read sent it at once, without a challenge
        assert keyvault.tokens_issued(sp.client_id, VAULT_RESOURCE, "aad") == 1
        assert keyvault.count("secrets", 401) == 1 and keyvault.count("secrets", 200) == 2
        # verify takes the replica as a reference too
        check = clirun.run("verify", "--source", ref(keyvault, "src"), "--db",
                           orders.database.name, "--collection", "orders", "--backup",
                           ref(keyvault, "dst"), "--target-db", target_db, "--https-ca-file",
                           keyvault.ca_file, env=env)
        assert check.rc == 0, check.explain()
        for res_ in (res, check):
            assert_nowhere(res_, source_mark, target_mark, sp.secret)
    finally:
        mongo.drop_database(target_db)


def test_blob_connection_string_from_key_vault(ferretdb, orders, azurite, blob_container, keyvault,
                                              principal):
    _, env = principal
    keyvault.set_secret("storage", azurite.connection_string)
    cs_ref = ref(keyvault, "storage")
    to = f"azblob://{blob_container.container_name}/kv"
    res = backup(keyvault, ferretdb.uri, orders, to, "--blob-connection-string", cs_ref, env=env)
    assert res.rc == 0, res.explain()
    blobcheck.assert_blob_backup_matches(blob_container, "kv", orders.database, ["orders"])
    listed = clirun.run("list", "--from", to, "--blob-connection-string", cs_ref,
                        "--https-ca-file", keyvault.ca_file, "--json", env=env)
    assert listed.rc == 0, listed.explain()
    assert len(json.loads(listed.stdout)["windows"]) == 2
    # from the environment variable, as Azure's tools read it
    again = clirun.run("list", "--from", to, "--https-ca-file", keyvault.ca_file,
                       env={**env, "AZURE_STORAGE_CONNECTION_STRING": cs_ref})
    assert again.rc == 0, again.explain()
    for r in (res, listed, again):
        assert_nowhere(r, azurite.account_key)


def test_requests_to_the_vault_and_for_tokens_are_retried(ferretdb, orders, keyvault, principal,
                                                         tmp_path):
    _, env = principal
    keyvault.set_secret("src", ferretdb.uri)
    keyvault.fail_next("secrets", 503, times=2)
    keyvault.fail_next("token", 429, retry_after=1)
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                 "--retry-base-ms", "50", env=env)
    assert res.rc == 0, res.explain()
    assert keyvault.count("secrets", 503) == 2 and keyvault.count("token", 429) == 1
    assert res.summary["retries"] >= 3


# ------------------------------------------------------------------ where tokens come from


@pytest.mark.parametrize("how", ["app-service", "imds", "imds-user-assigned-by-option",
                                 "app-service-user-assigned-by-environment"])
def test_managed_identities(ferretdb, orders, keyvault, tmp_path, how):
    keyvault.set_secret("src", ferretdb.uri)
    extra = []
    identity = None
    if how.startswith("app-service"):
        env = {**NO_CREDENTIALS, **keyvault.env_app_service()}
    else:
        env = {**NO_CREDENTIALS, **keyvault.env_imds()}
    if "user-assigned" in how:
        identity = keyvault.add_user_assigned_identity()
        if how.endswith("by-option"):
            extra = ["--managed-identity-client-id", identity.client_id]
        else:
            env["AZURE_CLIENT_ID"] = identity.client_id
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk", *extra, env=env)
    assert res.rc == 0, res.explain()
    bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])
    source = "appservice" if how.startswith("app-service") else "imds"
    client_id = identity.client_id if identity else keyvault.system_identity.client_id
    assert keyvault.tokens_issued(client_id, VAULT_RESOURCE, source) == 1
    assert_nowhere(res, keyvault.identity_header)


def test_an_unknown_user_assigned_identity_is_named(ferretdb, orders, keyvault, tmp_path):
    keyvault.set_secret("src", ferretdb.uri)
    env = {**NO_CREDENTIALS, **keyvault.env_imds()}
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                 "--azure-credential", "managed-identity", "--managed-identity-client-id",
                 "00000000-0000-0000-0000-00000000beef", env=env)
    assert_fails(res, 1, "EAUTH",
                 f"cosmocopy backup: error: --source: managed identity (IMDS at "
                 f"{keyvault.imds_base}) refused a token for {VAULT_RESOURCE} for client "
                 "00000000-0000-0000-0000-00000000beef (400: Identity not found)")


def test_workload_identity(ferretdb, orders, keyvault, tmp_path):
    keyvault.set_secret("src", ferretdb.uri)
    fed = keyvault.add_federated_credential()
    env = {**NO_CREDENTIALS, **keyvault.env_workload_identity(fed, tmp_path / "token")}
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                 "--azure-credential", "workload-identity", env=env)
    assert res.rc == 0, res.explain()
    assert keyvault.tokens_issued(fed.client_id, VAULT_RESOURCE, "aad") == 1
    assert_nowhere(res, fed.assertion)
    # the file is read for every token request: a rotated file that the tenant does not trust
    (tmp_path / "token").write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJub2JvZHkifQ.")
    keyvault.reset_counters()
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk2", env=env)
    assert_fails(res, 1, "EAUTH",
                 f"cosmocopy backup: error: --source: Entra ID refused the federated token "
                 f"(workload identity) of client {fed.client_id} for tenant {fed.tenant_id} (401: "
                 "AADSTS700213: No matching federated identity record found for presented "
                 "assertion subject.)")


# ------------------------------------------------------------------ bad input, each named


def test_a_vault_host_that_does_not_resolve(ferretdb, orders, keyvault, principal, tmp_path):
    _, env = principal
    res = backup(keyvault, "kv://nosuch.invalid/src", orders, f"dir:{tmp_path}/bk", env=env)
    assert_fails(res, 1, "ENOTFOUND",
                 "cosmocopy backup: error: --source: Key Vault nosuch.invalid: host not found")


def test_a_missing_secret_and_a_missing_version(ferretdb, orders, keyvault, principal, tmp_path):
    _, env = principal
    keyvault.set_secret("src", ferretdb.uri)
    res = backup(keyvault, ref(keyvault, "nosuch"), orders, f"dir:{tmp_path}/bk", env=env)
    assert_fails(res, 1, "ENOTFOUND", "cosmocopy backup: error: --source: secret nosuch not "
                 f"found in Key Vault 127.0.0.1:{keyvault.port}")
    version = "0123456789abcdef0123456789abcdef"
    res = backup(keyvault, ref(keyvault, "src", version), orders, f"dir:{tmp_path}/bk", env=env)
    assert_fails(res, 1, "ENOTFOUND", f"cosmocopy backup: error: --source: version {version} of "
                 f"secret src not found in Key Vault 127.0.0.1:{keyvault.port}")
    assert not (tmp_path / "bk").exists() or not list((tmp_path / "bk").rglob("*.manifest.json"))


def test_a_disabled_secret(ferretdb, orders, keyvault, principal, tmp_path):
    _, env = principal
    keyvault.set_secret("src", ferretdb.uri)
    keyvault.disable_secret("src")
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk", env=env)
    assert_fails(res, 1, "EAUTH", "cosmocopy backup: error: --source: secret src in Key Vault "
                 f"127.0.0.1:{keyvault.port} is disabled")


def test_a_rejected_client_secret(ferretdb, orders, keyvault, principal, tmp_path):
    sp, env = principal
    keyvault.set_secret("src", ferretdb.uri)
    wrong = "wrong" + uuid.uuid4().hex
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                 env={**env, "AZURE_CLIENT_SECRET": wrong})
    assert_fails(res, 1, "EAUTH", f"cosmocopy backup: error: --source: Entra ID refused the client "
                 f"secret of client {sp.client_id} for tenant {sp.tenant_id} (AADSTS7000215)")
    assert_nowhere(res, wrong, sp.secret)


def test_no_credential_available_names_every_source_tried(ferretdb, orders, keyvault, tmp_path):
    keyvault.set_secret("src", ferretdb.uri)
    # 127.0.0.1:closed stands in for 169.254.169.254: nothing answers there
    imds = f"http://127.0.0.1:{clirun.closed_port()}"
    res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                 env={**NO_CREDENTIALS, "AZURE_CLIENT_ID": "c1",
                      "AZURE_POD_IDENTITY_AUTHORITY_HOST": imds})
    assert_fails(res, 1, "EAUTH",
                 "cosmocopy backup: error: --source: no Microsoft Entra ID credential available: "
                 "environment: AZURE_TENANT_ID and AZURE_CLIENT_SECRET not set; workload "
                 "identity: AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE not set; managed "
                 f"identity: IDENTITY_ENDPOINT not set and IMDS at {imds} did not answer "
                 "(--azure-credential chooses a source)")
    chosen = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                    "--azure-credential", "environment", env=NO_CREDENTIALS)
    assert_fails(chosen, 1, "EAUTH",
                 "cosmocopy backup: error: --source: no Microsoft Entra ID credential available "
                 "(--azure-credential is environment): environment: AZURE_TENANT_ID, "
                 "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET not set")


def test_a_token_for_the_wrong_audience(ferretdb, orders, keyvault, tmp_path):
    keyvault.set_secret("src", ferretdb.uri)
    token = keyvault.mint_token(STORAGE_RESOURCE)
    endpoint = IdentityEndpoint(token)
    try:
        res = backup(keyvault, ref(keyvault, "src"), orders, f"dir:{tmp_path}/bk",
                     env=endpoint.env)
    finally:
        endpoint.close()
    assert_fails(res, 1, "EAUTH",
                 f"cosmocopy backup: error: --source: Key Vault 127.0.0.1:{keyvault.port} refused "
                 f"the token: Unauthorized: AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, "
                 f"found: {STORAGE_RESOURCE}. (it asks for a token for {VAULT_RESOURCE}/.default "
                 f"of tenant {keyvault.tenant_id})")
    assert_nowhere(res, token, token.split(".")[1])


def test_a_service_principal_token_from_an_independent_oauth2_server(ferretdb, orders,
                                                                    mock_oauth2_server, tmp_path):
    """The engine's service principal gets its token from navikt's mock-oauth2-server (a
    third-party OAuth2 server, as Entra ID is to us) and the vault checks that token's RS256
    signature against the issuer's published keys: nothing of the engine's token request is
    shaped by our own test server."""
    from keyvault import MOCK_OAUTH2_TENANT, KeyVaultServer

    mo = mock_oauth2_server
    client_id, secret = "engine-" + uuid.uuid4().hex[:8], "mo" + uuid.uuid4().hex
    env = {**NO_CREDENTIALS, "AZURE_TENANT_ID": MOCK_OAUTH2_TENANT, "AZURE_CLIENT_ID": client_id,
           "AZURE_CLIENT_SECRET": secret, "AZURE_AUTHORITY_HOST": mo.authority_host}
    with KeyVaultServer(tenant_id=MOCK_OAUTH2_TENANT) as vault:
        bundle = tmp_path / "ca-bundle.pem"   # both servers' certificate authorities
        bundle.write_text(Path(vault.ca_file).read_text() + Path(mo.ca_file).read_text())
        value, mark = marked(ferretdb.uri)
        vault.set_secret("src", value)

        untrusted = clirun.run("backup", "--source", ref(vault, "src"), "--db",
                               orders.database.name, "--to", f"dir:{tmp_path}/no",
                               *window_args(orders), "--https-ca-file", str(bundle), "--json",
                               env=env)
        assert_fails(untrusted, 1, "EAUTH",
                     f"cosmocopy backup: error: --source: Key Vault 127.0.0.1:{vault.port} "
                     "refused the token: Unauthorized: [BearerReadAccessTokenFailed] Error "
                     "validating token: 'S2S12005'. (it asks for a token for "
                     f"{VAULT_RESOURCE}/.default of tenant {MOCK_OAUTH2_TENANT})")

        vault.trust_issuer(mo.issuer(), mo.jwks())
        res = clirun.run("backup", "--source", ref(vault, "src"), "--db", orders.database.name,
                         "--to", f"dir:{tmp_path}/bk", *window_args(orders),
                         "--https-ca-file", str(bundle), "--json", env=env)
        assert res.rc == 0, res.explain()
        bc.assert_backup_matches(tmp_path / "bk", orders.database, ["orders"])
        assert vault.tokens_issued() == 0      # every token came from mock-oauth2-server
        assert vault.count("secrets", 200) == 1
        for run in (untrusted, res):
            assert_nowhere(run, mark, value, secret, root=tmp_path)


def test_malformed_references_are_bad_input(tmp_path):
    res = clirun.run("backup", "--source", "kv://myvault", "--db", "x", "--to",
                     f"dir:{tmp_path}/bk", "--json", env=NO_CREDENTIALS)
    assert_fails(res, 2, "EINVAL",
                 'cosmocopy backup: error: --source: Key Vault reference "kv://myvault" names no '
                 "secret (expected kv://VAULT/SECRET[/VERSION] or "
                 "https://VAULT.vault.azure.net/secrets/SECRET[/VERSION])")
    res = clirun.run("replicate", "--source", "mongodb://127.0.0.1:1/", "--db", "x", "--target",
                     "https://myvault.vault.azure.net/keys/k", "--json", env=NO_CREDENTIALS)
    assert_fails(res, 2, "EINVAL",
                 'cosmocopy replicate: error: --target: Key Vault reference '
                 '"https://myvault.vault.azure.net/keys/k" is not a Key Vault secret URL (its path '
                 "is not /secrets/NAME) (expected kv://VAULT/SECRET[/VERSION] or "
                 "https://VAULT.vault.azure.net/secrets/SECRET[/VERSION])")


def test_certificates_are_checked_without_a_ca_bundle(ferretdb, orders, keyvault, principal,
                                                     tmp_path):
    _, env = principal
    keyvault.set_secret("src", ferretdb.uri)
    res = clirun.run("backup", "--source", ref(keyvault, "src"), "--db", orders.database.name,
                     "--to", f"dir:{tmp_path}/bk", *window_args(orders), "--json", env=env)
    assert res.rc == 2 and res.summary["error"]["code"] == "EINVAL", res.explain()
    assert res.stderr.startswith(
        f"cosmocopy backup: error: --source: reading secret src: Key Vault "
        f"127.0.0.1:{keyvault.port}: the server's certificate cannot be checked: "), res.explain()
    assert res.stderr.endswith("(--https-ca-file names the CA bundle that signs it)\n"), \
        res.explain()
    # $SSL_CERT_FILE is the bundle when the option is not given
    res = clirun.run("backup", "--source", ref(keyvault, "src"), "--db", orders.database.name,
                     "--to", f"dir:{tmp_path}/bk", *window_args(orders), "--json",
                     env={**env, "SSL_CERT_FILE": keyvault.ca_file})
    assert res.rc == 0, res.explain()


# ------------------------------------------------------------------ Blob Storage with Entra ID


@pytest.fixture
def both_cas(keyvault, azurite_oauth, tmp_path):
    """One CA bundle for the vault, the token endpoint and Azurite (two test CAs)."""
    bundle = tmp_path / "cas.pem"
    bundle.write_text(Path(keyvault.ca_file).read_text() + Path(azurite_oauth.ca_file).read_text())
    return str(bundle)


@pytest.fixture
def oauth_container(azurite_oauth):
    client = azurite_oauth.service_client().create_container("e-" + uuid.uuid4().hex[:16])
    yield client
    try:
        client.delete_container()
    except Exception:
        pass


def test_backup_to_blob_storage_with_entra_id_tokens(ferretdb, orders, keyvault, principal,
                                                    azurite_oauth, oauth_container, both_cas):
    sp, env = principal
    name = oauth_container.container_name
    url = f"{azurite_oauth.blob_endpoint}/{name}/entra"
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", orders.database.name, "--to",
                     url, *window_args(orders), "--https-ca-file", both_cas, "--json", env=env)
    assert res.rc == 0, res.explain()
    assert keyvault.tokens_issued(sp.client_id, STORAGE_RESOURCE, "aad") == 1
    # read back with Microsoft's client and a token of the same test server
    credential = ClientSecretCredential(sp.tenant_id, sp.client_id, sp.secret,
                                        authority=keyvault.authority_host,
                                        disable_instance_discovery=True,
                                        connection_verify=keyvault.ca_file)
    container = azurite_oauth.token_service_client(credential).get_container_client(name)
    blobcheck.assert_blob_backup_matches(container, "entra", orders.database, ["orders"])
    assert_nowhere(res, sp.secret)
    # a connection string without a key or SAS, itself from the vault; list and restore read it
    keyvault.set_secret("storage", f"DefaultEndpointsProtocol=https;AccountName="
                        f"{azurite_oauth.account_name};BlobEndpoint={azurite_oauth.blob_endpoint};")
    cs = ["--blob-connection-string", ref(keyvault, "storage"), "--https-ca-file", both_cas]
    listed = clirun.run("list", "--from", f"azblob://{name}/entra", *cs, "--json", env=env)
    assert listed.rc == 0, listed.explain()
    assert len(json.loads(listed.stdout)["windows"]) == 2
    verified = clirun.run("verify", "--source", ferretdb.uri, "--db", orders.database.name,
                          "--collection", "orders", "--backup", f"azblob://{name}/entra", *cs,
                          env=env)
    assert verified.rc == 0, verified.explain()


def test_blob_storage_refusing_the_token_is_named(ferretdb, orders, keyvault, azurite_oauth,
                                                 oauth_container, both_cas):
    # a managed identity that hands out a Key Vault token: Azurite checks the audience
    endpoint = IdentityEndpoint(keyvault.mint_token(VAULT_RESOURCE))
    try:
        url = f"{azurite_oauth.blob_endpoint}/{oauth_container.container_name}/x"
        res = clirun.run("backup", "--source", ferretdb.uri, "--db", orders.database.name,
                         "--to", url, *window_args(orders), "--https-ca-file", both_cas,
                         "--json", env=endpoint.env)
    finally:
        endpoint.close()
    assert_fails(res, 1, "EAUTH",
                 f"cosmocopy backup: error: checking container {oauth_container.container_name} "
                 "of account devstoreaccount1: Blob Storage refused the Entra ID token for account "
                 "devstoreaccount1 (403 AuthenticationFailed: Invalid token audience.)")


def test_entra_id_needs_https(ferretdb, orders, azurite, blob_container):
    res = clirun.run("backup", "--source", ferretdb.uri, "--db", orders.database.name, "--to",
                     f"azblob://{blob_container.container_name}", "--blob-connection-string",
                     f"AccountName=devstoreaccount1;BlobEndpoint={azurite.blob_endpoint}",
                     *window_args(orders), "--json", env=NO_CREDENTIALS)
    assert res.rc == 2, res.explain()
    assert "neither AccountKey nor SharedAccessSignature, so Microsoft Entra ID tokens would be " \
           "sent, and they need https" in res.stderr, res.explain()
