"""The Key Vault / Entra ID / managed identity test server (tests/support/keyvault.py) is only
worth building the engine against if Microsoft's own clients accept it. These tests read it with
azure-keyvault-secrets and azure-identity (and, for the wire details the SDKs hide, with a plain
HTTPS client), and take its tokens to Azurite in OAuth mode through azure-storage-blob.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                   ResourceNotFoundError)
from azure.identity import (ClientSecretCredential, CredentialUnavailableError,
                            EnvironmentCredential, ManagedIdentityCredential,
                            WorkloadIdentityCredential)
from azure.keyvault.secrets import SecretClient

from keyvault import STORAGE_RESOURCE, VAULT_RESOURCE, decode_jwt

VAULT_SCOPE = VAULT_RESOURCE + "/.default"
STORAGE_SCOPE = STORAGE_RESOURCE + "/.default"


# ------------------------------------------------------------------ helpers
def sp_credential(kv, sp, secret=None, tenant_id=None):
    return ClientSecretCredential(tenant_id or sp.tenant_id, sp.client_id,
                                  sp.secret if secret is None else secret,
                                  authority=kv.authority_host, disable_instance_discovery=True,
                                  connection_verify=kv.ca_file)


def secret_client(kv, credential):
    return SecretClient(kv.vault_url, credential, verify_challenge_resource=False,
                        connection_verify=kv.ca_file)


def raw(kv_or_url, method, target, headers=None, body=None, ca_file=None):
    """One request without any SDK: (status, headers, parsed JSON body). ``kv_or_url`` is the
    KeyVaultServer (HTTPS) or a base URL: http:// (its managed identity listener) or https://
    with ``ca_file``."""
    url = urlsplit(kv_or_url if isinstance(kv_or_url, str) else kv_or_url.base_url)
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file or kv_or_url.ca_file)
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        data = urlencode(body).encode() if isinstance(body, dict) else body
        headers = dict(headers or {})
        if isinstance(body, dict):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read()
        return resp.status, resp.headers, (json.loads(text) if text else None)
    finally:
        conn.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _forget_challenges():
    """azure-keyvault-secrets remembers each vault's challenge for the whole process (a private
    module cache), so only the first client would ever see the 401: start each test afresh."""
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()
    yield


class StaticToken:
    """A TokenCredential that always answers the same token (to hand Azurite a bad one)."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


# ------------------------------------------------------------------ Key Vault through the SDK
def test_sdk_reads_latest_and_a_specific_version_with_a_service_principal(keyvault):
    sp = keyvault.add_service_principal()
    v1 = keyvault.set_secret("src-conn", "mongodb://old", content_type="text/plain")
    v2 = keyvault.set_secret("src-conn", "mongodb://new", tags={"env": "test"})
    client = secret_client(keyvault, sp_credential(keyvault, sp))

    latest = client.get_secret("src-conn")
    assert latest.value == "mongodb://new"
    assert latest.properties.version == v2
    assert latest.id == f"{keyvault.vault_url}/secrets/src-conn/{v2}"
    assert latest.properties.enabled is True
    assert latest.properties.tags == {"env": "test"}
    assert latest.properties.recovery_level == "Recoverable+Purgeable"

    old = client.get_secret("src-conn", v1)
    assert (old.value, old.properties.version, old.properties.content_type) == \
        ("mongodb://old", v1, "text/plain")

    # The wire: one challenge, the tenant discovery and one token, then reads with the token.
    assert keyvault.count("secrets", 401) == 1
    assert keyvault.count("openid", 200) == 1
    assert keyvault.tokens_issued(sp.client_id, VAULT_RESOURCE, "aad") == 1
    first = keyvault.requests[0]
    assert (first.method, first.path, first.status) == ("GET", "/secrets/src-conn/", 401)


def test_sdk_gets_forbidden_secret_disabled_for_a_disabled_version(keyvault):
    sp = keyvault.add_service_principal()
    old = keyvault.set_secret("dst-conn", "older")
    current = keyvault.set_secret("dst-conn", "current")
    keyvault.disable_secret("dst-conn", current)
    client = secret_client(keyvault, sp_credential(keyvault, sp))

    for version in (current, None):  # as on Azure: no fall-back to an older enabled version
        with pytest.raises(HttpResponseError) as caught:
            client.get_secret("dst-conn", version)
        assert caught.value.status_code == 403
        assert caught.value.error.code == "Forbidden"
        assert caught.value.error.message == "Operation get is not allowed on a disabled secret."
        assert caught.value.error.innererror == {"code": "SecretDisabled"}
    assert client.get_secret("dst-conn", old).value == "older"

    keyvault.enable_secret("dst-conn", current)
    assert client.get_secret("dst-conn").value == "current"


def test_sdk_raises_resource_not_found_for_a_missing_secret_or_version(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("present", "x")
    client = secret_client(keyvault, sp_credential(keyvault, sp))
    with pytest.raises(ResourceNotFoundError) as caught:
        client.get_secret("absent")
    assert caught.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) absent was not found in this key vault" in \
        caught.value.error.message
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("present", uuid.uuid4().hex)


def test_secret_names_are_case_insensitive_and_keep_their_spelling(keyvault):
    sp = keyvault.add_service_principal()
    version = keyvault.set_secret("Src-Conn", "v")
    secret = secret_client(keyvault, sp_credential(keyvault, sp)).get_secret("src-conn")
    assert secret.value == "v"
    assert secret.id == f"{keyvault.vault_url}/secrets/Src-Conn/{version}"


# ------------------------------------------------------------------ Entra ID token endpoint
def test_wrong_client_secret_is_aadsts7000215(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("s", "v")
    with pytest.raises(ClientAuthenticationError) as caught:
        secret_client(keyvault, sp_credential(keyvault, sp, secret="not-it")).get_secret("s")
    assert "AADSTS7000215: Invalid client secret provided." in str(caught.value)
    assert keyvault.tokens_issued() == 0


def test_unknown_client_and_unknown_tenant_are_refused_as_entra_id_does(keyvault):
    sp = keyvault.add_service_principal()
    stranger = sp.__class__(sp.tenant_id, str(uuid.uuid4()), "s", str(uuid.uuid4()))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        sp_credential(keyvault, stranger).get_token(VAULT_SCOPE)
    # MSAL discovers the tenant first; Entra ID answers 400 AADSTS90002 for an unknown one
    # (MSAL keeps the body to itself).
    unknown = str(uuid.uuid4())
    with pytest.raises(ClientAuthenticationError, match="Unable to get authority configuration"):
        sp_credential(keyvault, sp, tenant_id=unknown).get_token(VAULT_SCOPE)
    assert keyvault.count("openid", 400) == 1
    status, _, body = raw(keyvault, "GET", f"/{unknown}/v2.0/.well-known/openid-configuration")
    assert (status, body["error"], body["error_codes"]) == (400, "invalid_tenant", [90002])


def test_token_endpoint_wire_format(keyvault):
    sp = keyvault.add_service_principal()
    path = f"/{sp.tenant_id}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": sp.client_id,
            "client_secret": sp.secret, "scope": VAULT_SCOPE}
    status, _, body = raw(keyvault, "POST", path, body=form)
    assert status == 200
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == \
        ("Bearer", 3599, 3599)
    claims = decode_jwt(body["access_token"])
    assert claims["aud"] == VAULT_RESOURCE
    assert claims["iss"] == f"https://sts.windows.net/{sp.tenant_id}/"
    assert (claims["tid"], claims["appid"], claims["oid"], claims["sub"]) == \
        (sp.tenant_id, sp.client_id, sp.object_id, sp.object_id)
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 3599

    status, _, body = raw(keyvault, "POST", path, body=dict(form, client_secret="wrong"))
    assert status == 401
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")

    status, _, body = raw(keyvault, "POST", path, body=dict(form, scope=VAULT_RESOURCE))
    assert (status, body["error"], body["error_codes"]) == (400, "invalid_scope", [1002012])

    status, _, body = raw(keyvault, "POST", f"/{uuid.uuid4()}/oauth2/v2.0/token", body=form)
    assert (status, body["error_codes"]) == (400, [90002])

    # client_secret_basic works as well as client_secret_post.
    basic = base64.b64encode(f"{sp.client_id}:{sp.secret}".encode()).decode()
    status, _, body = raw(keyvault, "POST", path, headers={"Authorization": f"Basic {basic}"},
                          body={"grant_type": "client_credentials", "scope": STORAGE_SCOPE})
    assert status == 200 and decode_jwt(body["access_token"])["aud"] == STORAGE_RESOURCE


def test_tokens_are_rs256_and_verify_against_the_published_keys(keyvault):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    sp = keyvault.add_service_principal()
    token = sp_credential(keyvault, sp).get_token(VAULT_SCOPE).token
    status, _, jwks = raw(keyvault, "GET", f"/{sp.tenant_id}/discovery/v2.0/keys")
    assert status == 200
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "==="))
    assert header["alg"] == "RS256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    as_int = lambda s: int.from_bytes(base64.urlsafe_b64decode(s + "==="), "big")  # noqa: E731
    public = rsa.RSAPublicNumbers(as_int(key["e"]), as_int(key["n"])).public_key()
    public.verify(base64.urlsafe_b64decode(signature_b64 + "==="),
                  f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_environment_credential_uses_the_documented_variables(keyvault, monkeypatch):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("env-secret", "from-env")
    for name, value in keyvault.env_service_principal(sp).items():
        monkeypatch.setenv(name, value)
    credential = EnvironmentCredential(disable_instance_discovery=True,
                                       connection_verify=keyvault.ca_file)
    assert secret_client(keyvault, credential).get_secret("env-secret").value == "from-env"
    assert keyvault.tokens_issued(sp.client_id, VAULT_RESOURCE, "aad") == 1


# ------------------------------------------------------------------ the vault's token checks
def test_vault_challenge_and_token_checks_on_the_wire(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("s", "v")
    target = "/secrets/s?api-version=7.6"
    challenge = (f'Bearer authorization="{keyvault.base_url}/{keyvault.tenant_id}", '
                 f'resource="https://vault.azure.net"')

    status, headers, body = raw(keyvault, "GET", target)
    assert status == 401
    assert headers["WWW-Authenticate"] == challenge
    assert body["error"]["code"] == "Unauthorized"
    assert body["error"]["message"].startswith("AKV10000")

    refused = {
        "not issued here": "eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.",
        "expired": keyvault.mint_token(VAULT_RESOURCE, lifetime=-60),
        "wrong audience": keyvault.mint_token(STORAGE_RESOURCE),
        "other tenant": keyvault.mint_token(VAULT_RESOURCE,
                                            tenant_id=keyvault.add_tenant()),
        "not yet valid": keyvault.mint_token(VAULT_RESOURCE, not_before=int(time.time()) + 600),
    }
    messages = {}
    for why, token in refused.items():
        status, headers, body = raw(keyvault, "GET", target, headers=bearer(token))
        assert status == 401, why
        assert headers["WWW-Authenticate"] == challenge, why
        messages[why] = body["error"]["message"]
    assert "S2S12005" in messages["not issued here"]
    assert "TokenExpired" in messages["expired"]
    assert messages["wrong audience"] == ("AKV10022: Invalid audience. Expected "
                                          "https://vault.azure.net, found: "
                                          "https://storage.azure.com.")
    assert messages["other tenant"].startswith("AKV10032: Invalid issuer.")

    good = keyvault.mint_token(VAULT_RESOURCE)
    for path in ("/secrets/s", "/secrets/s/"):
        status, _, body = raw(keyvault, "GET", path + "?api-version=2025-07-01",
                              headers=bearer(good))
        assert (status, body["value"]) == (200, "v")

    status, _, body = raw(keyvault, "GET", "/secrets/s", headers=bearer(good))
    assert status == 400 and body["error"]["code"] == "BadParameter"  # api-version is required
    status, _, body = raw(keyvault, "GET", "/secrets/bad_name?api-version=7.6",
                          headers=bearer(good))
    assert status == 400 and body["error"]["code"] == "BadParameter"


def test_one_token_request_for_five_reads_and_refresh_when_short_lived(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("s", "v")
    client = secret_client(keyvault, sp_credential(keyvault, sp))
    for _ in range(5):
        assert client.get_secret("s").value == "v"
    assert keyvault.count("token") == 1
    assert keyvault.count("secrets") == 6  # the challenge, then five reads
    assert keyvault.count("secrets", 401) == 1

    # Clients renew a token that expires within 5 minutes: with 60 s tokens, each read asks.
    keyvault.reset_counters()
    keyvault.token_lifetime = 60
    fresh = secret_client(keyvault, sp_credential(keyvault, sp))
    for _ in range(3):
        fresh.get_secret("s")
    assert keyvault.tokens_issued(sp.client_id, VAULT_RESOURCE) == 3


def test_throttling_injected_with_retry_after_is_retried_by_the_sdk(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("s", "v")
    client = secret_client(keyvault, sp_credential(keyvault, sp))
    client.get_secret("s")
    keyvault.fail_next("secrets", 429, retry_after=0)
    assert client.get_secret("s").value == "v"
    assert keyvault.count("secrets", 429) == 1


# ------------------------------------------------------------------ managed identity
def test_managed_identity_app_service_system_and_user_assigned(keyvault, monkeypatch):
    keyvault.set_secret("s", "app-service")
    for name, value in keyvault.env_app_service().items():
        monkeypatch.setenv(name, value)
    credential = ManagedIdentityCredential()
    assert secret_client(keyvault, credential).get_secret("s").value == "app-service"
    assert keyvault.tokens_issued(keyvault.system_identity.client_id, VAULT_RESOURCE,
                                  "appservice") == 1

    user = keyvault.add_user_assigned_identity()
    token = ManagedIdentityCredential(client_id=user.client_id).get_token(STORAGE_SCOPE)
    claims = decode_jwt(token.token)
    assert (claims["appid"], claims["oid"], claims["aud"]) == \
        (user.client_id, user.object_id, STORAGE_RESOURCE)

    with pytest.raises(ClientAuthenticationError, match="Unable to load the proper Managed"):
        ManagedIdentityCredential(client_id=str(uuid.uuid4())).get_token(VAULT_SCOPE)


def test_app_service_endpoint_wire_format(keyvault):
    query = "?" + urlencode({"api-version": "2019-08-01", "resource": VAULT_RESOURCE})
    status, _, body = raw(keyvault.imds_base, "GET", "/msi/token" + query,
                          headers={"X-IDENTITY-HEADER": keyvault.identity_header})
    assert status == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str)
    assert abs(int(body["expires_on"]) - (time.time() + 86399)) < 5
    assert (body["resource"], body["token_type"], body["client_id"]) == \
        (VAULT_RESOURCE, "Bearer", keyvault.system_identity.client_id)

    status, _, body = raw(keyvault.imds_base, "GET", "/msi/token" + query)
    assert (status, body["statusCode"]) == (400, 400)
    status, _, body = raw(keyvault.imds_base, "GET", "/msi/token" + query,
                          headers={"X-IDENTITY-HEADER": "guess"})
    assert (status, body["statusCode"]) == (401, 401)


def test_managed_identity_imds_system_and_user_assigned(keyvault, monkeypatch):
    keyvault.set_secret("s", "imds")
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("IDENTITY_HEADER", raising=False)
    for name, value in keyvault.env_imds().items():
        monkeypatch.setenv(name, value)
    assert secret_client(keyvault, ManagedIdentityCredential()).get_secret("s").value == "imds"
    assert keyvault.tokens_issued(keyvault.system_identity.client_id, source="imds") == 1

    user = keyvault.add_user_assigned_identity()
    monkeypatch.setenv("AZURE_CLIENT_ID", user.client_id)  # what an engine user sets
    credential = ManagedIdentityCredential(client_id=user.client_id)
    assert secret_client(keyvault, credential).get_secret("s").value == "imds"
    assert keyvault.tokens_issued(user.client_id, VAULT_RESOURCE, "imds") == 1

    # IMDS answers 400 for an unknown identity; azure-identity reads that as "unavailable".
    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        ManagedIdentityCredential(client_id=str(uuid.uuid4())).get_token(VAULT_SCOPE)


def test_imds_endpoint_wire_format(keyvault):
    user = keyvault.add_user_assigned_identity()
    query = "?" + urlencode({"api-version": "2018-02-01", "resource": STORAGE_RESOURCE,
                             "client_id": user.client_id})
    path = "/metadata/identity/oauth2/token" + query
    status, _, body = raw(keyvault.imds_base, "GET", path, headers={"Metadata": "true"})
    assert status == 200
    for field in ("expires_in", "expires_on", "ext_expires_in", "not_before"):
        assert isinstance(body[field], str), field
    assert body["expires_in"] == "86399" and body["refresh_token"] == ""
    assert (body["client_id"], body["resource"], body["token_type"]) == \
        (user.client_id, STORAGE_RESOURCE, "Bearer")

    status, _, body = raw(keyvault.imds_base, "GET", path)
    assert (status, body) == (400, {"error": "invalid_request",
                                    "error_description": "Required metadata header not "
                                                         "specified"})
    unknown = path.replace(user.client_id, str(uuid.uuid4()))
    status, _, body = raw(keyvault.imds_base, "GET", unknown, headers={"Metadata": "true"})
    assert (status, body["error_description"]) == (400, "Identity not found")


# ------------------------------------------------------------------ workload identity
def test_workload_identity_with_a_federated_token_file(keyvault, monkeypatch, tmp_path):
    fed = keyvault.add_federated_credential()
    keyvault.set_secret("s", "workload")
    for name, value in keyvault.env_workload_identity(fed, tmp_path / "token").items():
        monkeypatch.setenv(name, value)
    credential = WorkloadIdentityCredential(disable_instance_discovery=True,
                                            connection_verify=keyvault.ca_file)
    assert secret_client(keyvault, credential).get_secret("s").value == "workload"
    assert keyvault.tokens_issued(fed.client_id, VAULT_RESOURCE, "aad") == 1

    (tmp_path / "other").write_text("eyJ.not-the-registered.assertion")
    wrong = WorkloadIdentityCredential(tenant_id=fed.tenant_id, client_id=fed.client_id,
                                       token_file_path=str(tmp_path / "other"),
                                       disable_instance_discovery=True,
                                       connection_verify=keyvault.ca_file)
    with pytest.raises(ClientAuthenticationError, match="AADSTS700213"):
        wrong.get_token(VAULT_SCOPE)


# ------------------------------------------------------------------ log hygiene
def test_log_has_requests_but_no_secret_values_or_tokens(keyvault):
    sp = keyvault.add_service_principal()
    keyvault.set_secret("s", "the-password-itself")
    client = secret_client(keyvault, sp_credential(keyvault, sp))
    client.get_secret("s")
    token = sp_credential(keyvault, sp).get_token(VAULT_SCOPE).token
    log = open(keyvault.log_path).read()
    assert "GET /secrets/s/?api-version=" in log
    assert f"POST /{sp.tenant_id}/oauth2/v2.0/token 200 token" in log
    for leak in ("the-password-itself", sp.secret, token, token.split(".")[1]):
        assert leak not in log


# ------------------------------------------------------------------ Azurite with Entra ID tokens
def test_azurite_oauth_round_trip_with_a_service_principal_token(keyvault, azurite_oauth):
    sp = keyvault.add_service_principal()
    service = azurite_oauth.token_service_client(sp_credential(keyvault, sp))
    container = service.create_container("oauth-" + uuid.uuid4().hex[:12])
    container.upload_blob("dir/a.bson", b"\x05\x00\x00\x00\x00")
    assert container.download_blob("dir/a.bson").readall() == b"\x05\x00\x00\x00\x00"
    assert keyvault.tokens_issued(sp.client_id, STORAGE_RESOURCE, "aad") == 1
    # What the token wrote, Shared Key reads.
    assert azurite_oauth.service_client().get_container_client(container.container_name) \
        .download_blob("dir/a.bson").readall() == b"\x05\x00\x00\x00\x00"


def test_azurite_oauth_accepts_managed_identity_tokens(keyvault, azurite_oauth, monkeypatch):
    for name, value in keyvault.env_imds().items():
        monkeypatch.setenv(name, value)
    service = azurite_oauth.token_service_client(ManagedIdentityCredential())
    container = service.create_container("mi-" + uuid.uuid4().hex[:12])
    container.upload_blob("x", b"y")
    assert container.download_blob("x").readall() == b"y"


@pytest.mark.parametrize("why, make, detail", [
    ("wrong audience", lambda kv: kv.mint_token(VAULT_RESOURCE), "Invalid token audience."),
    ("expired", lambda kv: kv.mint_token(STORAGE_RESOURCE, lifetime=-60),
     "Lifetime validation failed. The token is expired."),
    ("foreign issuer", lambda kv: kv.mint_token(STORAGE_RESOURCE, issuer=kv.base_url + "/x/"),
     "Invalid token issuer."),
])
def test_azurite_oauth_refuses_bad_tokens_with_403(keyvault, azurite_oauth, why, make, detail):
    name = "bad-" + uuid.uuid4().hex[:12]
    azurite_oauth.service_client().create_container(name)
    service = azurite_oauth.token_service_client(StaticToken(make(keyvault)))
    with pytest.raises(ClientAuthenticationError) as caught:
        service.get_container_client(name).get_container_properties()
    # Azurite answers 403 AuthenticationFailed (Azure Storage: 401 InvalidAuthenticationInfo
    # with a WWW-Authenticate challenge for an expired token).
    assert caught.value.status_code == 403
    assert caught.value.error_code == "AuthenticationFailed"
    assert f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" in \
        caught.value.response.text()



# ------------------------------------------------------------------ an independent OAuth2 server
def test_azure_identity_gets_a_token_from_mock_oauth2_server(mock_oauth2_server, keyvault):
    """navikt's mock-oauth2-server is a third-party OAuth2 server azure-identity also works
    with; the fields a client can count on are those both servers send."""
    mo = mock_oauth2_server
    credential = ClientSecretCredential("cosmocopy", "engine", "any-secret-works-here",
                                        authority=mo.authority_host,
                                        disable_instance_discovery=True,
                                        connection_verify=mo.ca_file)
    token = credential.get_token(VAULT_SCOPE)
    claims = decode_jwt(token.token)
    assert claims["sub"] == "engine"
    assert claims["iss"] == f"{mo.authority_host}/cosmocopy/v2.0"
    assert 3500 < token.expires_on - time.time() <= 3600

    form = {"grant_type": "client_credentials", "client_id": "engine", "client_secret": "x",
            "scope": VAULT_SCOPE}
    status, _, theirs = raw(mo.authority_host, "POST", "/cosmocopy/oauth2/v2.0/token",
                            body=form, ca_file=mo.ca_file)
    assert status == 200
    sp = keyvault.add_service_principal()
    status, _, ours = raw(keyvault, "POST", f"/{sp.tenant_id}/oauth2/v2.0/token",
                          body=dict(form, client_id=sp.client_id, client_secret=sp.secret))
    assert status == 200
    for body in (theirs, ours):
        assert body["token_type"] == "Bearer"
        assert isinstance(body["expires_in"], int) and body["expires_in"] > 3000
        assert body["access_token"].count(".") == 2
