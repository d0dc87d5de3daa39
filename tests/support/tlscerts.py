"""Throw-away TLS certificates for tests: a self-signed CA and a server
certificate it signed, valid for 127.0.0.1 and localhost.

    paths = make_certs(tmp_path)   # {"ca": ..., "cert": ..., "key": ...}

Made with the ``openssl`` command line (no Python crypto dependency). The
files are PEM; ``cert`` holds only the leaf certificate and ``key`` its
unencrypted private key, as FerretDB and ``ssl.load_cert_chain`` expect.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DAYS = "2"  # long enough for any test run, short enough to be obviously fake


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")


def make_certs(directory: str | os.PathLike) -> dict[str, str]:
    """Create ``ca.pem``, ``server.pem`` and ``server.key`` in ``directory``
    and return their paths as ``dict(ca=..., cert=..., key=...)``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
             "-subj", "/CN=cosmocopy test CA", "-keyout", "ca.key", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", DAYS, "-sha256", "-extfile", "server.ext",
             "-out", "server.pem", cwd=d)
    return {"ca": str(d / "ca.pem"), "cert": str(d / "server.pem"), "key": str(d / "server.key")}
