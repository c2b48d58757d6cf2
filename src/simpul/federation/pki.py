"""The federation's certificates: a certificate authority for the nodes' TLS certificates,
and each node's key and certificate (both for its listener and as a client).

X-Road registers each security server's TLS certificate at its central server; Simpul does
the same with the directory (`simpul.federation.directory`): a node's certificate must be
issued by the federation's CA *and* listed, by its SHA-256 fingerprint, in the signed
directory. The CA lets TLS itself refuse strangers; the directory says which member a
certificate belongs to, and removing a member ends its calls without a new CA.

The demo and the tests make their own CA here with `cryptography`. A real federation uses
the CA the federation authority designates (docs/federation.md). Keys are ECDSA P-256:
every TLS stack speaks it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simpul.config import write_private

CA_CERT, CA_KEY = "ca.pem", "ca.key"
NODE_CERT, NODE_KEY = "node.pem", "node.key"


def fingerprint(der: bytes) -> str:
    """A certificate's pin as the directory writes it: `sha256:<hex of the DER>`."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def cert_fingerprint(cert: x509.Certificate) -> str:
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    fingerprint: str


def create_ca(
    folder: Path, name: str, *, days: int = 3650, now: dt.datetime | None = None
) -> Issued:
    """A new CA in `folder` (ca.pem, ca.key 0600). Refuses to overwrite one."""
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.exists() or key_path.exists():
        raise FileExistsError(str(cert_path))
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(f"{name} CA", name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _key_pem(key))
    write_private(cert_path, _cert_pem(cert))
    return Issued(cert_path, key_path, cert_fingerprint(cert))


def issue_node(
    ca_folder: Path,
    out_folder: Path,
    member: str,
    organisation: str,
    hosts: list[str],
    *,
    days: int = 825,
    now: dt.datetime | None = None,
) -> Issued:
    """A node's TLS key and certificate (node.key 0600, node.pem), issued by the CA in
    `ca_folder`, for server and client use, valid for `hosts` (names or IP addresses)."""
    ca_key = serialization.load_pem_private_key((ca_folder / CA_KEY).read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((ca_folder / CA_CERT).read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(member, organisation))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_path, cert_path = out_folder / NODE_KEY, out_folder / NODE_CERT
    write_private(key_path, _key_pem(key))
    # The chain the peer needs: the node's certificate, then the CA's.
    write_private(cert_path, _cert_pem(cert))
    return Issued(cert_path, key_path, cert_fingerprint(cert))


def read_fingerprint(cert_file: Path) -> str:
    """The pin of the first certificate in a PEM file."""
    return cert_fingerprint(x509.load_pem_x509_certificate(cert_file.read_bytes()))
