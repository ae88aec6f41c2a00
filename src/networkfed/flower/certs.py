"""TLS certificates and SuperNode authentication keys for a Flower deployment.

A plant network needs three kinds of secrets, made here with the ``cryptography`` package that
Flower already depends on (no ``openssl`` or ``ssh-keygen`` on the path required):

* a certificate authority (``ca.crt``) that every SuperNode and the ``flwr`` CLI trust;
* the SuperLink's server certificate (``server.pem`` / ``server.key``), signed by that CA and
  valid for the host names and IP addresses the plants dial;
* one EC P-384 key pair per site (``supernode-keys/<site_id>`` and ``<site_id>.pub``, OpenSSH
  format, as ``flower-supernode --auth-supernode-private-key`` and
  ``flwr supernode register`` expect). Only registered public keys may join the federation.

Private keys are written with mode ``0600``; every file is written atomically.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from networkfed.core.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["CertificateSet", "make_certificates", "make_supernode_key"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
KEYS_DIR = "supernode-keys"


@dataclass(frozen=True)
class CertificateSet:
    """Where :func:`make_certificates` put each file."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    node_keys: dict[str, tuple[Path, Path]]
    """``site_id -> (private key, public key)``."""


def make_certificates(
    out_dir: str | Path,
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    site_ids: Sequence[str] = (),
    valid_days: int = 365,
) -> CertificateSet:
    """Create a CA, a SuperLink certificate for ``hosts`` and one key pair per site.

    Parameters
    ----------
    out_dir
        Folder to write into (created). Existing files are replaced, so re-running rotates
        every secret; SuperNodes then need the new ``ca.crt`` and keys.
    hosts
        Names and IP addresses SuperNodes and the ``flwr`` CLI use to reach the SuperLink;
        each becomes a subject alternative name (TLS checks the name that was dialled).
    site_ids
        Sites that get an authentication key pair.
    valid_days
        Validity of the CA and server certificates.
    """
    if not hosts:
        raise ConfigError("hosts", list(hosts), "at least one host name or IP address")
    if valid_days < 1:
        raise ConfigError("valid_days", valid_days, "a positive number of days")
    directory = Path(out_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_cert = _ca_certificate(ca_key, valid_days)
    server_key = ec.generate_private_key(ec.SECP384R1())
    server_cert = _server_certificate(server_key, ca_key, ca_cert, hosts, valid_days)
    paths = CertificateSet(
        directory=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        node_keys={site: make_supernode_key(directory / KEYS_DIR, site) for site in site_ids},
    )
    _write(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths.ca_key, _pem_private(ca_key), private=True)
    _write(paths.server_cert, server_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths.server_key, _pem_private(server_key), private=True)
    logger.info("wrote CA, server certificate for %s and %d site keys to %s",
                ", ".join(hosts), len(site_ids), directory)
    return paths


def make_supernode_key(keys_dir: str | Path, site_id: str) -> tuple[Path, Path]:
    """Write one site's EC P-384 authentication key pair in OpenSSH format.

    Returns ``(private_key_path, public_key_path)``; the public file is what the SuperLink
    operator registers with ``flwr supernode register``.
    """
    if not site_id or "/" in site_id or site_id.startswith("."):
        raise ConfigError("site_id", site_id, "a non-empty name without '/' or leading '.'")
    folder = Path(keys_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private_path, public_path = folder / site_id, folder / f"{site_id}.pub"
    _write(private_path, private, private=True)
    _write(public_path, public + f" {site_id}\n".encode())
    return private_path, public_path


def _ca_certificate(key: ec.EllipticCurvePrivateKey, valid_days: int) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NetworkFed federation CA")])
    return (
        _builder(name, name, key.public_key(), valid_days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA384())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    hosts: Sequence[str],
    valid_days: int,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    return (
        _builder(subject, ca_cert.subject, key.public_key(), valid_days)
        .add_extension(x509.SubjectAlternativeName([_san(host) for host in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA384())
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _san(host: str) -> x509.GeneralName:
    """An IP address becomes an IP SAN (TLS compares those separately from DNS names)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, content: bytes, *, private: bool = False) -> None:
    """Write atomically; private keys are readable by their owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, path)
