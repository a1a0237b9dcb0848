"""The local cloud's TLS: a CA made once per data directory, and a server certificate it signs.

Clients trust the CA through ``AWS_CA_BUNDLE``. The server certificate names ``localhost``,
``127.0.0.1``, ``::1`` and the S3 virtual hosts (``*.localhost``, ``s3.localhost``,
``*.s3.localhost``) plus the host the server listens on. Keys are ECDSA P-256, made with
``cryptography``; private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
CERT_FILE = "server.pem"
KEY_FILE = "server.key"
_DNS_NAMES = ("localhost", "*.localhost", "s3.localhost", "*.s3.localhost")
_IPS = ("127.0.0.1", "::1")


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kmslab local cloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _make_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("kmslab local CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(tls_dir / CA_KEY_FILE, key)
    (tls_dir / CA_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((tls_dir / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((tls_dir / CA_KEY_FILE).read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return cert, key


def _server_names(host: str) -> tuple[list[x509.GeneralName], set[str]]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in _DNS_NAMES]
    ips = set(_IPS)
    try:
        ipaddress.ip_address(host)
        if host not in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard address is not a name to certify
            ips.add(host)
    except ValueError:
        if host not in _DNS_NAMES:
            names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(ips)]
    return names, ips


def _covers(cert: x509.Certificate, host: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    wanted, _ = _server_names(host)
    have = set(san)
    expires = cert.not_valid_after_utc
    return all(name in have for name in wanted) and expires > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def ensure_certificates(tls_dir: Path, host: str) -> tuple[Path, Path, Path]:
    """Make the CA (once) and a server certificate for ``host`` (when missing, stale or not covering it).

    Args:
        tls_dir: the directory for the PEM files.
        host: the address the server listens on.

    Returns:
        (CA certificate, server certificate, server key) paths.
    """
    tls_dir.mkdir(parents=True, exist_ok=True)
    loaded = _load_ca(tls_dir)
    ca_cert, ca_key = loaded if loaded is not None else _make_ca(tls_dir)
    cert_path, key_path = tls_dir / CERT_FILE, tls_dir / KEY_FILE
    try:
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if _covers(current, host) and current.issuer == ca_cert.subject and key_path.exists():
            return tls_dir / CA_FILE, cert_path, key_path
    except (OSError, ValueError):
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    names, _ = _server_names(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return tls_dir / CA_FILE, cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Build the server's TLS context (TLS 1.2 or later).

    Args:
        cert: the server certificate.
        key: its private key.

    Returns:
        The SSL context.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context
