"""A certificate authority of the stand-in's own and the serving certificate it signs.

Like an EKS cluster, the local API server presents a certificate signed by a cluster CA that no
system trust store knows; the adapter must be handed that CA (as EKS DescribeCluster hands it
`certificateAuthority.data`). Certificates are checked by OpenSSL against the real clock, so
their validity is set from the wall clock, not from simulated time.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = timedelta(days=2)


@dataclass(frozen=True)
class ClusterCertificates:
    """The cluster CA (PEM) and the server's certificate chain and key (PEM)."""

    ca_pem: str
    server_certificate_pem: str
    server_key_pem: str

    @property
    def ca_base64(self) -> str:
        """The CA as EKS DescribeCluster returns it in `certificateAuthority.data`."""
        return base64.b64encode(self.ca_pem.encode()).decode()

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the serving certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # load_cert_chain only reads files; keep them for the shortest possible time.
        with tempfile.TemporaryDirectory(prefix="ebb-k8s-tls-") as directory:
            certificate = os.path.join(directory, "server.crt")
            key = os.path.join(directory, "server.key")
            with open(certificate, "w") as file:
                file.write(self.server_certificate_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
                file.write(self.server_key_pem)
            context.load_cert_chain(certificate, key)
        return context


def generate_cluster_certificates(
    common_name: str = "kubernetes", hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> ClusterCertificates:
    """A fresh CA and a serving certificate for `hosts` (IP addresses and DNS names)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name}-ca")])
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ClusterCertificates(
        ca_pem=ca_certificate.public_bytes(serialization.Encoding.PEM).decode(),
        server_certificate_pem=server_certificate.public_bytes(serialization.Encoding.PEM).decode(),
        server_key_pem=server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
