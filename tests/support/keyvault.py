"""A small Azure for tests: Key Vault secrets, Entra ID (AAD v2) tokens and the managed identity
endpoints, in one process, on 127.0.0.1. There is no Key Vault emulator we can install here, so
this is ours; tests/integration/test_keyvault_server.py reads it through Microsoft's own
azure-keyvault-secrets and azure-identity to keep it faithful.

    with KeyVaultServer() as kv:
        sp = kv.add_service_principal()                   # tenant_id, client_id, secret
        version = kv.set_secret("src-conn", "mongodb://...")
        kv.disable_secret("src-conn", version)            # 403 SecretDisabled from now on
        env = kv.env_service_principal(sp)                # AZURE_* variables for a client

PROTOCOL (what a client sees)

HTTPS listener, ``kv.base_url`` = ``https://127.0.0.1:PORT`` (certificate signed by the CA in
``kv.ca_file``, valid for 127.0.0.1 and localhost). It is the vault and the Entra ID authority:

  GET  /secrets/<name>[/]?api-version=V        current (newest) version of the secret
  GET  /secrets/<name>/<version>?api-version=V that version (32 hex digits)
       200 {"value","id":"https://HOST:PORT/secrets/<name>/<version>","attributes":{"enabled",
            "created","updated","recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},
            "tags":{}, "contentType"?}
       400 BadParameter  no api-version (any value is accepted), or a name that is not [0-9a-zA-Z-]
       401 no ``Authorization: Bearer``, a token this server did not issue, an expired one, one for
           another audience (AKV10022 Invalid audience) or another tenant (AKV10032 Invalid
           issuer). Every 401 carries the challenge
             WWW-Authenticate: Bearer authorization="https://127.0.0.1:PORT/<tenant>",
                               resource="https://vault.azure.net"
           so a client fetches its token from this same server.
       403 {"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled
           secret.","innererror":{"code":"SecretDisabled"}}} for a disabled version. As on Azure,
           disabling the *current* version makes GET without a version fail too: there is no
           fall-back to an older enabled version.
       404 {"error":{"code":"SecretNotFound","message":"A secret with (name/id) <name> was not
           found in this key vault. ..."}}
  POST /<tenant>/oauth2/v2.0/token   grant_type=client_credentials, client_id,
       scope=<resource>/.default, and client_secret (or HTTP Basic), or client_assertion +
       client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer (workload
       identity). 200 {"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,
       "access_token"}. Errors as Entra ID: unknown tenant 400 invalid_request AADSTS90002,
       unknown client 400 unauthorized_client AADSTS700016, wrong secret 401 invalid_client
       AADSTS7000215, assertion not registered 401 invalid_client AADSTS700213, scope without
       /.default 400 invalid_scope AADSTS1002012, unknown resource 400 invalid_resource
       AADSTS500011.
  GET  /<tenant>/v2.0/.well-known/openid-configuration   (MSAL's tenant discovery)
  GET  /<tenant>/discovery/v2.0/keys                     (JWKS: the RS256 signing key)

Plain-HTTP listener, ``kv.imds_base`` = ``http://127.0.0.1:MSIPORT``, the managed identities:

  GET /msi/token?api-version=2019-08-01&resource=R[&client_id=C]   App Service / Functions
      header X-IDENTITY-HEADER: kv.identity_header (missing 400, wrong 401, as
      {"statusCode","message"}); 200 {"access_token","expires_on":"<epoch>","resource",
      "token_type":"Bearer","client_id"}
  GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=C]   IMDS
      header Metadata: true (else 400 invalid_request "Required metadata header not
      specified"); 200 {"access_token","refresh_token":"","expires_in","expires_on",
      "ext_expires_in","not_before" (strings),"resource","token_type":"Bearer","client_id"}
  Without client_id: the system-assigned identity (``kv.system_identity``); an unknown client_id:
  400 "Identity not found" (IMDS) / "Unable to load the proper Managed Identity." (App Service).

Tokens are RS256 JWTs shaped like Entra ID's v1 access tokens: aud (the resource, without
/.default), iss (``issuer``, default ``https://sts.windows.net/<tenant>/``, which Azurite's
``--oauth basic`` accepts), tid, oid, sub, appid, idtyp, iat, nbf, exp, uti, ver "1.0". The server
remembers every token it issued; the vault refuses any other.

ENVIRONMENT a client uses to reach it (``env_*`` methods build these dicts):
  service principal  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
                     AZURE_AUTHORITY_HOST=kv.authority_host
  workload identity  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE,
                     AZURE_AUTHORITY_HOST
  App Service MI     IDENTITY_ENDPOINT=kv.identity_endpoint, IDENTITY_HEADER=kv.identity_header
                     (+ AZURE_CLIENT_ID for a user-assigned identity)
  IMDS MI            AZURE_POD_IDENTITY_AUTHORITY_HOST=kv.imds_base (azure-identity's override of
                     http://169.254.169.254) (+ AZURE_CLIENT_ID for a user-assigned identity)
  and trust ``kv.ca_file`` (azure SDKs: connection_verify=; curl: CURLOPT_CAINFO). MSAL checks a
  non-Microsoft authority host with login.microsoftonline.com unless the credential gets
  ``disable_instance_discovery=True``; there is no network here, so pass it.

REGISTERING: ``add_tenant()``, ``add_service_principal()``, ``add_federated_credential()``,
``add_user_assigned_identity()``, ``set_secret()``, ``disable_secret()``/``enable_secret()``,
``delete_secret()``; ``trust_issuer(issuer, jwks)`` accepts the RS256 tokens another OAuth2
server signs (MockOAuth2Server.issuer()/jwks()); ``mint_token()`` makes a token directly (wrong audience, expired, another
tenant); ``token_lifetime`` shortens every token from now on; ``fail_next()`` answers the next
requests of a route with e.g. 429 + Retry-After. ``count()``, ``tokens_issued()`` and ``requests``
tell what clients did; ``reset()`` forgets everything but the tenant and the system identity.

Every request is logged to ``kv.log_path`` (method, path, safe query keys, status); secret
values, client secrets, assertions and tokens never are.

ALSO HERE: ``MockOAuth2Server`` runs navikt's mock-oauth2-server 6.0.2 (Maven Central, Java 17)
over HTTPS as an independent OAuth2 implementation to cross-check clients against; it takes
any client secret, so the server above stays the one tests use for refusals. For tenant
``MOCK_OAUTH2_TENANT`` it issues Entra-shaped tokens (aud the resource, tid) that a
KeyVaultServer of that tenant accepts after ``trust_issuer()``: the engine's service principal
then gets its token from a third-party server. ~2 s to start, plus ~3 s for
``mvn dependency:build-classpath`` once per temp dir (more with an empty ~/.m2).
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from localserver import LocalServer
from tlscerts import make_certs

VAULT_RESOURCE = "https://vault.azure.net"
STORAGE_RESOURCE = "https://storage.azure.com"
# Resources this tenant has service principals for (Entra ID answers AADSTS500011 for others).
KNOWN_RESOURCES = (VAULT_RESOURCE, STORAGE_RESOURCE, "https://management.azure.com",
                   "https://cosmos.azure.com", "https://database.windows.net")
DEFAULT_ISSUER = "https://sts.windows.net/{tenant}/"
AAD_LIFETIME = 3599      # expires_in of a client-credentials token
MI_LIFETIME = 86399      # expires_in of a managed identity token (24 h)
APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
SECRET_VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
# Query keys worth logging; everything else (a SAS, a stray secret) stays out of the log.
LOGGED_QUERY_KEYS = ("api-version", "resource", "client_id", "object_id", "mi_res_id")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_jwt(token: str) -> dict:
    """The claims of a JWT, unverified (for tests and for Azurite-like checks)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _resource_of_scope(scope: str) -> str:
    return scope[:-len("/.default")]


def _same_resource(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


@dataclasses.dataclass(frozen=True)
class ServicePrincipal:
    tenant_id: str
    client_id: str
    secret: str
    object_id: str


@dataclasses.dataclass(frozen=True)
class FederatedCredential:
    """A workload identity: the app ``client_id`` trusts the assertion text ``assertion``
    (what Kubernetes writes to AZURE_FEDERATED_TOKEN_FILE)."""
    tenant_id: str
    client_id: str
    assertion: str
    object_id: str

    def write_token_file(self, path: str | os.PathLike) -> str:
        Path(path).write_text(self.assertion)
        return str(path)


@dataclasses.dataclass(frozen=True)
class ManagedIdentity:
    client_id: str
    object_id: str
    user_assigned: bool


@dataclasses.dataclass
class SecretVersion:
    name: str
    version: str
    value: str
    enabled: bool
    content_type: str | None
    tags: dict
    created: int
    updated: int


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    method: str
    route: str
    path: str
    status: int


class KeyVaultServer:
    """Key Vault + Entra ID + managed identity endpoints for tests; see the module docstring.
    Thread-safe: the listeners serve each connection on its own thread, tests call in from
    theirs."""

    def __init__(self, tenant_id: str | None = None, issuer: str = DEFAULT_ISSUER,
                 token_lifetime: int | None = None, identity_header: str | None = None):
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.issuer_template = issuer
        self.token_lifetime = token_lifetime  # None: Azure's (3599 s, 24 h for managed identity)
        self.identity_header = identity_header or uuid.uuid4().hex
        self.system_identity = ManagedIdentity(str(uuid.uuid4()), str(uuid.uuid4()), False)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ccopy-keyvault-"))
        self.log_path = self.tmpdir / "keyvault.log"
        self._certs = make_certs(self.tmpdir / "tls")
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._signing_key, self._kid = self._make_signing_key()
        self._https: _Server | None = None
        self._http: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._clear()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "KeyVaultServer":
        if self._https is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._certs["cert"], self._certs["key"])
        self._https = _Server(self, context)
        self._http = _Server(self, None)
        for server, name in ((self._https, "keyvault-https"), (self._http, "keyvault-msi")):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._https, self._http):
            if server is not None:
                server.shutdown()
                server.close_all()
        for thread in self._threads:
            thread.join(5)
        self._https = self._http = None
        self._threads = []

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> "KeyVaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        where = self.base_url if self._https else "stopped"
        return f"<KeyVaultServer {where} tenant={self.tenant_id}>"

    # ------------------------------------------------------------ where
    @property
    def port(self) -> int:
        return self._https.server_address[1]

    @property
    def msi_port(self) -> int:
        return self._http.server_address[1]

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``: the vault URL and the authority host."""
        return f"https://127.0.0.1:{self.port}"

    vault_url = base_url
    authority_host = base_url

    @property
    def authority(self) -> str:
        """The authority of this vault's tenant, as in its 401 challenge."""
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def ca_file(self) -> str:
        return self._certs["ca"]

    @property
    def imds_base(self) -> str:
        """``http://127.0.0.1:MSIPORT``: the value for AZURE_POD_IDENTITY_AUTHORITY_HOST."""
        return f"http://127.0.0.1:{self.msi_port}"

    @property
    def identity_endpoint(self) -> str:
        """App Service's IDENTITY_ENDPOINT."""
        return self.imds_base + APP_SERVICE_PATH

    def secret_url(self, name: str, version: str | None = None) -> str:
        return f"{self.base_url}/secrets/{name}" + (f"/{version}" if version else "")

    def issuer(self, tenant_id: str | None = None) -> str:
        return self.issuer_template.format(tenant=tenant_id or self.tenant_id)

    # ------------------------------------------------------------ registration
    def add_tenant(self, tenant_id: str | None = None) -> str:
        tenant_id = tenant_id or str(uuid.uuid4())
        with self._lock:
            self._tenants.add(tenant_id.lower())
        return tenant_id

    def add_service_principal(self, client_id: str | None = None, secret: str | None = None,
                              tenant_id: str | None = None) -> ServicePrincipal:
        sp = ServicePrincipal(self.add_tenant(tenant_id or self.tenant_id),
                              client_id or str(uuid.uuid4()),
                              secret if secret is not None else _client_secret(),
                              str(uuid.uuid4()))
        with self._lock:
            self._principals[(sp.tenant_id.lower(), sp.client_id.lower())] = sp
        return sp

    def add_federated_credential(self, client_id: str | None = None,
                                 tenant_id: str | None = None,
                                 assertion: str | None = None) -> FederatedCredential:
        """Register an app that trusts ``assertion`` (default: a Kubernetes-like service account
        JWT made here)."""
        tenant_id = self.add_tenant(tenant_id or self.tenant_id)
        client_id = client_id or str(uuid.uuid4())
        if assertion is None:
            now = int(time.time())
            assertion = self._sign({
                "aud": ["api://AzureADTokenExchange"], "iss": "https://oidc.test.local/cluster/",
                "sub": "system:serviceaccount:backup:cosmocopy", "iat": now, "nbf": now,
                "exp": now + 86400})
        fed = FederatedCredential(tenant_id, client_id, assertion, str(uuid.uuid4()))
        with self._lock:
            self._federated[(tenant_id.lower(), client_id.lower())] = fed
        return fed

    def add_user_assigned_identity(self, client_id: str | None = None) -> ManagedIdentity:
        identity = ManagedIdentity(client_id or str(uuid.uuid4()), str(uuid.uuid4()), True)
        with self._lock:
            self._identities[identity.client_id.lower()] = identity
        return identity

    def set_secret(self, name: str, value: str, enabled: bool = True,
                   content_type: str | None = None, tags: dict | None = None) -> str:
        """Add a new version (it becomes the current one); returns its version id."""
        if not SECRET_NAME.match(name):
            raise ValueError(f"invalid Key Vault secret name {name!r}: 1-127 of [0-9a-zA-Z-]")
        now = int(time.time())
        version = uuid.uuid4().hex
        with self._lock:
            versions = self._secrets.setdefault(name.lower(), [])
            stored_name = versions[0].name if versions else name
            versions.append(SecretVersion(stored_name, version, value, enabled, content_type,
                                          dict(tags or {}), now, now))
        return version

    def disable_secret(self, name: str, version: str | None = None) -> None:
        """Disable one version (default: the current one)."""
        self._set_enabled(name, version, False)

    def enable_secret(self, name: str, version: str | None = None) -> None:
        self._set_enabled(name, version, True)

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.pop(name.lower(), None)

    def _set_enabled(self, name: str, version: str | None, enabled: bool) -> None:
        with self._lock:
            found = self._find_version(name, version)
            if found is None:
                raise KeyError(f"no secret {name}" + (f"/{version}" if version else ""))
            found.enabled = enabled
            found.updated = int(time.time())

    def trust_issuer(self, issuer: str, jwks: dict) -> None:
        """Accept the RS256 tokens another OAuth2 server signs as ``issuer`` with the keys of
        ``jwks`` (its ``/jwks`` document), as Key Vault accepts those of Entra ID: signature,
        issuer, lifetime, audience and tenant (``tid``) are all checked."""
        with self._lock:
            self._trusted[issuer] = jwks

    def mint_token(self, resource: str = VAULT_RESOURCE, *, tenant_id: str | None = None,
                   client_id: str | None = None, lifetime: int | None = None,
                   not_before: int | None = None, issuer: str | None = None) -> str:
        """A token as the token endpoint would issue it, registered as issued (so only its
        claims can make the vault refuse it): ``lifetime=-60`` is expired, ``resource=
        STORAGE_RESOURCE`` is the wrong audience for the vault."""
        now = int(time.time())
        claims = self._claims(resource, tenant_id or self.tenant_id,
                              client_id or str(uuid.uuid4()), str(uuid.uuid4()), now,
                              AAD_LIFETIME if lifetime is None else lifetime)
        if not_before is not None:
            claims["nbf"] = not_before
        if issuer is not None:
            claims["iss"] = issuer
        return self._issue(claims, "minted")

    def fail_next(self, route: str, status: int, times: int = 1, retry_after: int | None = None,
                  body: dict | None = None) -> None:
        """Answer the next ``times`` requests of ``route`` ("secrets", "token", "appservice",
        "imds") with ``status`` (default bodies as Azure's for 429 and 5xx)."""
        with self._lock:
            self._faults[route].extend([(status, retry_after, body)] * times)

    # ------------------------------------------------------------ what happened
    def count(self, route: str | None = None, status: int | None = None) -> int:
        """Requests seen, by route ("secrets", "token", "openid", "keys", "appservice", "imds",
        "other") and answer status."""
        with self._lock:
            return sum(1 for r in self._requests
                       if (route is None or r.route == route)
                       and (status is None or r.status == status))

    def tokens_issued(self, client_id: str | None = None, resource: str | None = None,
                      source: str | None = None) -> int:
        """Tokens handed out, by client id, resource (no /.default) and source ("aad",
        "appservice", "imds"; "minted" for mint_token)."""
        with self._lock:
            return sum(n for (c, r, s), n in self._issued_counts.items()
                       if (client_id is None or c.lower() == client_id.lower())
                       and (resource is None or _same_resource(r, resource))
                       and (source is None or s == source))

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def reset_counters(self) -> None:
        with self._lock:
            self._requests = []
            self._issued_counts = collections.Counter()

    def reset(self) -> None:
        """Forget secrets, principals, identities other than the system one, issued tokens,
        faults and counters; restore the default token lifetime."""
        with self._lock:
            self._clear()
        self.token_lifetime = None

    def _clear(self) -> None:
        self._tenants: set[str] = {self.tenant_id.lower()}
        self._principals: dict[tuple[str, str], ServicePrincipal] = {}
        self._federated: dict[tuple[str, str], FederatedCredential] = {}
        self._identities: dict[str, ManagedIdentity] = {}
        self._secrets: dict[str, list[SecretVersion]] = {}
        self._tokens: dict[str, dict] = {}
        self._trusted: dict[str, dict] = {}   # issuer -> its JWKS (trust_issuer)
        self._faults: dict[str, list] = collections.defaultdict(list)
        self._requests: list[RequestRecord] = []
        self._issued_counts: collections.Counter = collections.Counter()

    # ------------------------------------------------------------ environment for clients
    def env_service_principal(self, sp: ServicePrincipal) -> dict[str, str]:
        return {"AZURE_TENANT_ID": sp.tenant_id, "AZURE_CLIENT_ID": sp.client_id,
                "AZURE_CLIENT_SECRET": sp.secret, "AZURE_AUTHORITY_HOST": self.authority_host}

    def env_workload_identity(self, fed: FederatedCredential,
                              token_file: str | os.PathLike) -> dict[str, str]:
        return {"AZURE_TENANT_ID": fed.tenant_id, "AZURE_CLIENT_ID": fed.client_id,
                "AZURE_FEDERATED_TOKEN_FILE": fed.write_token_file(token_file),
                "AZURE_AUTHORITY_HOST": self.authority_host}

    def env_app_service(self, identity: ManagedIdentity | None = None) -> dict[str, str]:
        env = {"IDENTITY_ENDPOINT": self.identity_endpoint, "IDENTITY_HEADER": self.identity_header}
        if identity is not None and identity.user_assigned:
            env["AZURE_CLIENT_ID"] = identity.client_id
        return env

    def env_imds(self, identity: ManagedIdentity | None = None) -> dict[str, str]:
        env = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_base}
        if identity is not None and identity.user_assigned:
            env["AZURE_CLIENT_ID"] = identity.client_id
        return env

    # ------------------------------------------------------------ tokens
    @staticmethod
    def _make_signing_key():
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.generate_private_key(public_exponent=65537, key_size=2048), _b64url(os.urandom(20))

    def jwks(self) -> dict:
        numbers = self._signing_key.public_key().public_numbers()
        as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")  # noqa: E731
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self._kid, "x5t": self._kid,
                          "n": _b64url(as_bytes(numbers.n)), "e": _b64url(as_bytes(numbers.e))}]}

    def _sign(self, claims: dict) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5t": self._kid, "kid": self._kid}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = self._signing_key.sign(signing_input.encode(), padding.PKCS1v15(),
                                           hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _claims(self, resource: str, tenant_id: str, client_id: str, object_id: str, now: int,
                lifetime: int, managed_identity: bool = False) -> dict:
        claims = {"aud": resource, "iss": self.issuer(tenant_id), "iat": now, "nbf": now,
                  "exp": now + lifetime, "aio": _b64url(os.urandom(24)), "appid": client_id,
                  "appidacr": "1" if not managed_identity else "2", "idp": self.issuer(tenant_id),
                  "idtyp": "app", "oid": object_id, "rh": "0.test.", "sub": object_id,
                  "tid": tenant_id, "uti": _b64url(os.urandom(16)), "ver": "1.0"}
        if managed_identity:
            claims["xms_mirid"] = ("/subscriptions/00000000-0000-0000-0000-000000000000/"
                                   "resourcegroups/test/providers/Microsoft.ManagedIdentity/"
                                   f"userAssignedIdentities/{client_id}")
        return claims

    def _issue(self, claims: dict, source: str) -> str:
        token = self._sign(claims)
        with self._lock:
            self._tokens[token] = claims
            self._issued_counts[(claims["appid"], claims["aud"], source)] += 1
        return token

    def _lifetime(self, default: int) -> int:
        return default if self.token_lifetime is None else self.token_lifetime

    def _check_vault_token(self, authorization: str | None) -> str | None:
        """None when the request may read secrets, else the 401 message."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "AKV10000: Request is missing a Bearer or PoP token."
        token = authorization[len("bearer "):].strip()
        with self._lock:
            claims = self._tokens.get(token) or self._verified_claims(token)
        if claims is None:
            return "[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'."
        now = time.time()
        if now >= claims["exp"]:
            return "[TokenExpired] Error validating token: 'S2S12086'."
        if now < claims["nbf"]:
            return "[TokenNotYetValid] Error validating token: 'S2S12085'."
        if not _same_resource(claims["aud"], VAULT_RESOURCE):
            return f"AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {claims['aud']}."
        if claims["tid"].lower() != self.tenant_id.lower():
            return (f"AKV10032: Invalid issuer. Expected one of {self.issuer()}, "
                    f"found {claims['iss']}.")
        return None

    def _verified_claims(self, token: str) -> dict | None:
        """The claims of a token a trusted issuer signed (trust_issuer), else None. Holds
        self._lock."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if not self._trusted or token.count(".") != 2:
            return None
        try:
            head, body, signature = token.split(".")
            header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
            claims = decode_jwt(token)
            jwks = self._trusted.get(claims.get("iss"))
            if jwks is None or header.get("alg") != "RS256":
                return None
            raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            for key in jwks.get("keys", []):
                if key.get("kty") != "RSA":
                    continue
                number = lambda v: int.from_bytes(  # noqa: E731
                    base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")
                public = rsa.RSAPublicNumbers(number(key["e"]), number(key["n"])).public_key()
                try:
                    public.verify(raw, f"{head}.{body}".encode(), padding.PKCS1v15(),
                                  hashes.SHA256())
                except InvalidSignature:
                    continue
                if all(k in claims for k in ("aud", "exp", "nbf", "tid")):
                    return claims
        except (ValueError, KeyError, TypeError):
            return None
        return None

    # ------------------------------------------------------------ handlers (called by _Handler)
    def _find_version(self, name: str, version: str | None) -> SecretVersion | None:
        versions = self._secrets.get(name.lower())
        if not versions:
            return None
        if not version:
            return versions[-1]
        return next((v for v in versions if v.version == version.lower()), None)

    def _take_fault(self, route: str):
        with self._lock:
            faults = self._faults.get(route)
            return faults.pop(0) if faults else None

    def handle_secret(self, request: "_Handler", query: dict, name: str, version: str | None):
        if "api-version" not in query:
            return request.send_json(400, _kv_error(
                "BadParameter", "The 'api-version' query parameter is missing."))
        problem = self._check_vault_token(request.headers.get("Authorization"))
        if problem is not None:
            return request.send_json(401, _kv_error("Unauthorized", problem), {
                "WWW-Authenticate": f'Bearer authorization="{self.authority}", '
                                    f'resource="{VAULT_RESOURCE}"'})
        if not SECRET_NAME.match(name) or (version and not SECRET_VERSION.match(version)):
            return request.send_json(400, _kv_error(
                "BadParameter", f"The request URI contains an invalid name: {name}"))
        with self._lock:
            found = self._find_version(name, version)
            found = dataclasses.replace(found) if found else None
        if found is None:
            ident = name + (f"/{version}" if version else "")
            return request.send_json(404, _kv_error(
                "SecretNotFound",
                f"A secret with (name/id) {ident} was not found in this key vault. If you "
                "recently deleted this secret you may be able to recover it using the correct "
                "recovery command. For help resolving this issue, please see "
                "https://go.microsoft.com/fwlink/?linkid=2125182"))
        if not found.enabled:
            error = _kv_error("Forbidden", "Operation get is not allowed on a disabled secret.")
            error["error"]["innererror"] = {"code": "SecretDisabled"}
            return request.send_json(403, error)
        host = request.headers.get("Host") or f"127.0.0.1:{self.port}"
        body = {"value": found.value, "id": f"https://{host}/secrets/{found.name}/{found.version}",
                "attributes": {"enabled": True, "created": found.created,
                               "updated": found.updated,
                               "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
                "tags": found.tags}
        if found.content_type is not None:
            body["contentType"] = found.content_type
        return request.send_json(200, body)

    def handle_token(self, request: "_Handler", tenant: str, form: dict):
        def fail(status: int, error: str, code: int, description: str):
            return request.send_json(status, _aad_error(error, code, description))

        if tenant.lower() not in self._tenants:
            return fail(400, "invalid_request", 90002,
                        f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                        "tenant ID and are signing into the correct cloud.")
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return fail(400, "unsupported_grant_type", 70003,
                        f"The app requested an unsupported grant type '{grant}'.")
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret = client_id or user, password
        if not client_id:
            return fail(400, "invalid_request", 900144,
                        "The request body must contain the following parameter: 'client_id'.")
        key = (tenant.lower(), client_id.lower())
        with self._lock:
            sp, fed = self._principals.get(key), self._federated.get(key)
        if sp is None and fed is None:
            return fail(400, "unauthorized_client", 700016,
                        f"Application with identifier '{client_id}' was not found in the "
                        f"directory '{tenant}'. This can happen if the application has not been "
                        "installed by the administrator of the tenant or consented to by any "
                        "user in the tenant. You may have sent your authentication request to "
                        "the wrong tenant.")
        assertion = form.get("client_assertion")
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                return fail(400, "invalid_request", 50027,
                            "client_assertion_type is not "
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
            if fed is None or assertion.strip() != fed.assertion.strip():
                return fail(401, "invalid_client", 700213,
                            "No matching federated identity record found for presented "
                            "assertion subject.")
            object_id = fed.object_id
        elif secret is not None:
            if sp is None or secret != sp.secret:
                return fail(401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the secret being sent in the "
                            "request is the client secret value, not the client secret ID, for a "
                            f"secret added to app '{client_id}'.")
            object_id = sp.object_id
        else:
            return fail(401, "invalid_client", 7000218,
                        "The request body must contain the following parameter: "
                        "'client_assertion' or 'client_secret'.")
        scopes = [s for s in form.get("scope", "").split()
                  if s not in ("openid", "profile", "offline_access")]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return fail(400, "invalid_scope", 1002012,
                        f"The provided value for scope {' '.join(scopes)} is not valid. Client "
                        "credential flows must have a scope value with /.default suffixed to "
                        "the resource identifier (application ID URI).")
        resource = _resource_of_scope(scopes[0])
        if not any(_same_resource(resource, known) for known in KNOWN_RESOURCES):
            return fail(400, "invalid_resource", 500011,
                        f"The resource principal named {resource} was not found in the tenant "
                        f"named {tenant}.")
        lifetime = self._lifetime(AAD_LIFETIME)
        claims = self._claims(resource, tenant, client_id, object_id, int(time.time()), lifetime)
        token = self._issue(claims, "aad")
        return request.send_json(200, {"token_type": "Bearer", "expires_in": lifetime,
                                       "ext_expires_in": lifetime, "access_token": token})

    def handle_openid(self, request: "_Handler", tenant: str):
        if tenant.lower() not in self._tenants:
            return request.send_json(400, _aad_error(
                "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check to make sure you "
                "have the correct tenant ID and are signing into the correct cloud."))
        base = f"{self.base_url}/{tenant}"
        return request.send_json(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
        })

    def handle_managed_identity(self, request: "_Handler", route: str, query: dict):
        app_service = route == "appservice"

        def fail(status: int, message: str, error: str = "invalid_request"):
            if app_service:
                return request.send_json(status, {"statusCode": status, "message": message,
                                                  "correlationId": str(uuid.uuid4())})
            return request.send_json(status, {"error": error, "error_description": message})

        if app_service:
            given = request.headers.get("X-IDENTITY-HEADER")
            if given is None:
                return fail(400, "Required header X-IDENTITY-HEADER not specified.")
            if given != self.identity_header:
                return fail(401, "Unauthorized: X-IDENTITY-HEADER does not match.")
        elif request.headers.get("Metadata", "").lower() != "true":
            return fail(400, "Required metadata header not specified")
        if "api-version" not in query:
            return fail(400, "Required query variable 'api-version' is missing")
        resource = query.get("resource")
        if not resource:
            return fail(400, "Required query variable 'resource' is missing")
        if not any(_same_resource(resource, known) for known in KNOWN_RESOURCES):
            return fail(400, f"AADSTS500011: The resource principal named {resource} was not "
                        "found in the tenant.", "invalid_resource")
        client_id = query.get("client_id")
        if client_id:
            with self._lock:
                identity = self._identities.get(client_id.lower())
            if identity is None:
                return fail(400, "Unable to load the proper Managed Identity." if app_service
                            else "Identity not found")
        else:
            identity = self.system_identity
        now = int(time.time())
        lifetime = self._lifetime(MI_LIFETIME)
        token = self._issue(self._claims(resource, self.tenant_id, identity.client_id,
                                         identity.object_id, now, lifetime,
                                         managed_identity=True), route)
        if app_service:
            return request.send_json(200, {"access_token": token, "expires_on": str(now + lifetime),
                                           "resource": resource, "token_type": "Bearer",
                                           "client_id": identity.client_id})
        return request.send_json(200, {
            "access_token": token, "refresh_token": "", "client_id": identity.client_id,
            "expires_in": str(lifetime), "expires_on": str(now + lifetime),
            "ext_expires_in": str(lifetime), "not_before": str(now), "resource": resource,
            "token_type": "Bearer"})

    def record(self, method: str, route: str, path: str, query: dict, status: int) -> None:
        shown = "&".join(f"{k}={query[k]}" for k in LOGGED_QUERY_KEYS if k in query)
        with self._lock:
            self._requests.append(RequestRecord(method, route, path, status))
        line = (f"{time.strftime('%H:%M:%S')} {method} {path}{'?' + shown if shown else ''} "
                f"{status} {route}\n")
        with self._log_lock, open(self.log_path, "a") as log:
            log.write(line)


def _client_secret() -> str:
    # Shaped like Entra ID's: 40 characters, a '~' in them.
    return uuid.uuid4().hex[:3] + "8Q~" + _b64url(os.urandom(27))[:34]


def _kv_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _aad_error(error: str, code: int, description: str) -> dict:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return {"error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
                                 f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


_AAD_ROUTES = re.compile(r"^/(?P<tenant>[^/]+)/(?:(?P<token>oauth2/v2\.0/token)|"
                         r"(?P<openid>v2\.0/\.well-known/openid-configuration)|"
                         r"(?P<keys>discovery/v2\.0/keys))$")
_SECRET_ROUTE = re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?$")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as Azure's front ends
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 30

    def log_message(self, *args) -> None:
        pass  # KeyVaultServer.record() writes a log without secrets instead

    def send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self._status = status

    def _dispatch(self, method: str) -> None:
        self._status = 0
        owner = self.server.owner
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = self._route(url.path, method)
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        try:
            fault = owner._take_fault(route)
            if fault is not None:
                self._send_fault(*fault)
            elif route == "secrets":
                m = _SECRET_ROUTE.match(url.path)
                owner.handle_secret(self, query, m["name"], m["version"] or None)
            elif route in ("token", "openid", "keys"):
                tenant = _AAD_ROUTES.match(url.path)["tenant"]
                if route == "token":
                    form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
                    owner.handle_token(self, tenant, form)
                elif route == "openid":
                    owner.handle_openid(self, tenant)
                else:
                    self.send_json(200, owner.jwks())
            elif route in ("appservice", "imds"):
                owner.handle_managed_identity(self, route, query)
            else:
                self.send_json(404 if method in ("GET", "POST") else 405, {"error": {
                    "code": "NotFound", "message": f"{method} {url.path} is not served by the "
                    "cosmocopy Key Vault test server"}})
        finally:
            owner.record(method, route, url.path, query, self._status)

    def _route(self, path: str, method: str) -> str:
        if self.server.tls:
            if method == "GET" and _SECRET_ROUTE.match(path):
                return "secrets"
            m = _AAD_ROUTES.match(path)
            if m and m["token"] and method == "POST":
                return "token"
            if m and m["openid"] and method == "GET":
                return "openid"
            if m and m["keys"] and method == "GET":
                return "keys"
        elif method == "GET" and path == APP_SERVICE_PATH:
            return "appservice"
        elif method == "GET" and path == IMDS_PATH:
            return "imds"
        return "other"

    def _send_fault(self, status: int, retry_after: int | None, body: dict | None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if body is None:
            body = (_kv_error("Throttled", "Request was not allowed because application has "
                              "exceeded the request rate limit for the vault.")
                    if status == 429 else _kv_error("InternalServerError",
                                                    "Injected by the test server."))
        self.send_json(status, body, headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class _Server(http.server.ThreadingHTTPServer):
    """One listener; with a TLS context, the handshake runs on the connection's own thread so a
    client that never finishes it cannot stall the others."""

    daemon_threads = True

    def __init__(self, owner: KeyVaultServer, tls: ssl.SSLContext | None):
        self.owner = owner
        self.tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address) -> None:
        conn = request
        try:
            if self.tls is not None:
                request.settimeout(_Handler.timeout)
                conn = self.tls.wrap_socket(request, server_side=True)
            with self._open_lock:
                self._open.add(conn)
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass  # a client that went away or refused our certificate
        finally:
            with self._open_lock:
                self._open.discard(conn)
            if conn is not request:
                conn.close()

    def handle_error(self, request, client_address) -> None:
        pass

    def close_all(self) -> None:
        self.server_close()
        with self._open_lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---------------------------------------------------------------------------------------------
# An independent OAuth2 server to cross-check against: navikt's mock-oauth2-server from Maven
# Central, run on the machine's Java 17. It accepts any client secret, so it cannot replace the
# server above; it shows that what azure-identity does against ours it also does against a
# genuine third-party implementation.

MOCK_OAUTH2_ARTIFACT = ("no.nav.security", "mock-oauth2-server", "6.0.2")
MOCK_OAUTH2_MAIN = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"
# The tenant for which mock-oauth2-server issues tokens shaped like Entra ID's (aud the resource,
# tid the tenant) to clients that post to <authority>/<tenant>/oauth2/v2.0/token, as the engine
# and MSAL do. Its issuer id is the path before /token: "<tenant>/oauth2/v2.0".
MOCK_OAUTH2_TENANT = "cosmocopy-engine"


class MockOAuth2Unavailable(RuntimeError):
    """Java or Maven is missing, or Maven could not resolve the artifact."""


def mock_oauth2_classpath(cache_dir: str | os.PathLike | None = None) -> str:
    """The runtime classpath of mock-oauth2-server (39 jars), resolved once with
    ``mvn dependency:build-classpath`` into the local Maven repository and remembered in
    ``cache_dir`` (default: <tmp>/ccopy-mock-oauth2-<version>)."""
    group, artifact, version = MOCK_OAUTH2_ARTIFACT
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise MockOAuth2Unavailable(f"{tool} not found on PATH")
    cache = Path(cache_dir or Path(tempfile.gettempdir()) / f"ccopy-mock-oauth2-{version}")
    cache.mkdir(parents=True, exist_ok=True)
    cp_file = cache / "classpath.txt"
    if cp_file.is_file():
        classpath = cp_file.read_text().strip()
        if classpath and all(Path(jar).is_file() for jar in classpath.split(os.pathsep)):
            return classpath
    (cache / "pom.xml").write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cosmocopy.tests</groupId><artifactId>mock-oauth2-runner</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies><dependency>
    <groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
  </dependency></dependencies>
</project>
""")
    proc = subprocess.run(["mvn", "-q", "-B", "dependency:build-classpath",
                           f"-Dmdep.outputFile={cp_file}"], cwd=cache, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300)
    if proc.returncode != 0 or not cp_file.is_file():
        raise MockOAuth2Unavailable(f"mvn could not resolve {':'.join(MOCK_OAUTH2_ARTIFACT)}: "
                                    + (proc.stdout + proc.stderr).strip()[-600:])
    return cp_file.read_text().strip()


class MockOAuth2Server(LocalServer):
    """mock-oauth2-server over HTTPS (our tlscerts certificate, as PKCS#12) on a free port.
    Its authority host is ``authority_host``; any first path segment is a tenant ("issuer id"):
    MSAL finds ``/<tenant>/v2.0/.well-known/openid-configuration`` and posts to its
    ``token_endpoint``. Raises MockOAuth2Unavailable without Java or Maven."""

    NAME = "mock-oauth2-server"
    ERROR = MockOAuth2Unavailable
    TMP_PREFIX = "ccopy-mock-oauth2-"
    LOG_NAME = "mock-oauth2.log"
    START_TIMEOUT = 60.0

    def __init__(self, classpath: str | None = None):
        java = shutil.which("java")
        if java is None:
            raise MockOAuth2Unavailable("java not found on PATH")
        self.classpath = classpath or mock_oauth2_classpath()
        super().__init__(Path(java))
        self._certs = make_certs(self.tmpdir / "tls")
        self._keystore = self.tmpdir / "tls" / "server.p12"
        subprocess.run(["openssl", "pkcs12", "-export", "-in", self._certs["cert"],
                        "-inkey", self._certs["key"], "-out", str(self._keystore),
                        "-passout", "pass:changeit", "-name", "server"],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL)

    @property
    def ca_file(self) -> str:
        return self._certs["ca"]

    @property
    def authority_host(self) -> str:
        return f"https://127.0.0.1:{self._port}"

    def describe(self) -> str:
        return self.authority_host

    def issuer(self, tenant: str = MOCK_OAUTH2_TENANT) -> str:
        """The ``iss`` of the tokens a client of ``tenant`` gets from the v2.0 token endpoint."""
        return f"{self.authority_host}/{tenant}/oauth2/v2.0"

    def jwks(self, tenant: str = MOCK_OAUTH2_TENANT) -> dict:
        """The keys that sign those tokens (for KeyVaultServer.trust_issuer)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection("127.0.0.1", self._port, context=context, timeout=10)
        try:
            conn.request("GET", f"/{tenant}/oauth2/v2.0/jwks")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"mock-oauth2-server jwks: {response.status} {body[:200]!r}")
            return json.loads(body)
        finally:
            conn.close()

    def command(self) -> list[str]:
        issuer_id = f"{MOCK_OAUTH2_TENANT}/oauth2/v2.0"
        mappings = [{"requestParam": "scope", "match": f"{resource}/.default",
                     "claims": {"aud": resource, "tid": MOCK_OAUTH2_TENANT,
                                "sub": "${clientId}", "appid": "${clientId}"}}
                    for resource in KNOWN_RESOURCES]
        config = {"interactiveLogin": False,
                  "tokenCallbacks": [{"issuerId": issuer_id, "tokenExpiry": 3600,
                                      "requestMappings": mappings}],
                  "httpServer": {
            "type": "MockWebServerWrapper",
            "ssl": {"keyPassword": "changeit", "keystoreFile": str(self._keystore),
                    "keystoreType": "PKCS12", "keystorePassword": "changeit"}}}
        # LocalServer starts command() with the test's environment: env(1) adds the server's.
        # C1 JIT only and the serial GC: starts in ~2 s instead of ~3.5 s on 2 cores.
        return ["env", "SERVER_HOSTNAME=127.0.0.1", f"SERVER_PORT={self._port}",
                f"JSON_CONFIG={json.dumps(config)}", str(self.binary),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", self.classpath,
                MOCK_OAUTH2_MAIN]

    def ready(self) -> bool:
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection("127.0.0.1", self._port, context=context, timeout=2)
        try:
            conn.request("GET", "/ready/.well-known/openid-configuration")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

if __name__ == "__main__":
    # Manual use: python tests/support/keyvault.py -> runs until Ctrl-C with one principal.
    with KeyVaultServer() as server:
        principal = server.add_service_principal()
        server.set_secret("example", "hello")
        print(json.dumps({"vault": server.vault_url, "ca_file": server.ca_file,
                          "imds_base": server.imds_base, **server.env_service_principal(principal)},
                         indent=2), flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
