"""A private certificate authority made in the test, for TLS servers on loopback.

`PrivateCA` is a self-signed CA certificate and key; `issue()` signs a server certificate
for some names and writes its chain and key to a folder, and `server_context()` turns
that into an `ssl.SSLContext` for the server side. The extensions are the ones Python
3.13's default `VERIFY_X509_STRICT` asks for (key identifiers, key usage, basic
constraints), so a client built with `ssl.create_default_context(cafile=...)` accepts the
chain on every interpreter the suite runs on.

Example:

    ca = PrivateCA.make(tmp_path)
    context = ca.server_context(["localhost", "127.0.0.1"])
    ca.cafile                                  # the PEM a client trusts
"""

from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["PrivateCA"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@attrs.frozen
class PrivateCA:
    folder: Path
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey = attrs.field(repr=False)

    @classmethod
    def make(cls, folder: Path, common_name: str = "authkit test CA") -> PrivateCA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        ca = cls(folder, certificate, key)
        ca.cafile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return ca

    @property
    def cafile(self) -> Path:
        return self.folder / f"ca-{self.certificate.serial_number:x}.pem"

    def issue(self, names: list[str]) -> tuple[Path, Path]:
        """A server certificate for `names` (host names or IP addresses), signed by this CA:
        the paths of its PEM certificate and of its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        issuer_key = self.key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(_san(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = self.folder / f"server-{certificate.serial_number:x}"
        cert_path, key_path = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path

    def server_context(self, names: list[str]) -> ssl.SSLContext:
        """A server-side context presenting a certificate for `names` from this CA."""
        cert_path, key_path = self.issue(names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context
