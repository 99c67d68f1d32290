"""TLS and mutual TLS for the dashboard and its clients, and a small private CA for tests and
`ikasched up`.

Certificates and keys are PEM files named in config; each function also takes PEM bytes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ikasched_common import clock
from ikasched_common.auth import write_private_file
from ikasched_common.errors import InvalidArgument

# A path (str or PathLike) to a PEM file, or the PEM bytes themselves.
PemSource = bytes | str | os.PathLike[str]

INSECURE_FLAG = "--insecure"


def read_pem(source: PemSource) -> bytes:
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def _shown(source: PemSource) -> str:
    return "the PEM given" if isinstance(source, bytes) else os.fspath(source)


def _read(source: PemSource, field: str) -> bytes:
    try:
        return read_pem(source)
    except OSError as exc:
        raise InvalidArgument(
            f"cannot read {_shown(source)}: {exc.strerror or exc}", field=field
        ) from None


def _certificates(source: PemSource, field: str) -> tuple[bytes, list[x509.Certificate]]:
    pem = _read(source, field)
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certs = []
    if not certs:
        raise InvalidArgument(f"{_shown(source)} holds no PEM certificate", field=field)
    return pem, certs


def key_pair(
    cert: PemSource,
    key: PemSource,
    *,
    fields: tuple[str, str] = ("tls_cert_file", "tls_key_file"),
) -> tuple[bytes, bytes]:
    """The PEM bytes of a certificate chain and its private key, once they are known to be
    readable, PEM, and a pair (grpc itself only logs "Invalid private key" and fails later
    with a message about something else). Refusals name the field and the files."""
    cert_field, key_field = fields
    cert_pem, certs = _certificates(cert, cert_field)
    key_pem = _read(key, key_field)
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise InvalidArgument(
            f"{_shown(key)} holds no unencrypted PEM private key", field=key_field
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private.public_key().public_bytes(der, public) != certs[0].public_key().public_bytes(
        der, public
    ):
        raise InvalidArgument(
            f"{_shown(key)} is not the private key of the certificate {_shown(cert)}",
            field=key_field,
        )
    return cert_pem, key_pem


def server_credentials(
    cert: PemSource, key: PemSource, client_ca: PemSource | None = None
) -> grpc.ServerCredentials:
    """TLS credentials for a server; with `client_ca`, clients must present a certificate
    signed by it (mutual TLS). Files that cannot serve are refused naming the field."""
    cert_pem, key_pem = key_pair(cert, key)
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=None
        if client_ca is None
        else _certificates(client_ca, "tls_client_ca_file")[0],
        require_client_auth=client_ca is not None,
    )


def channel_credentials(
    ca: PemSource | None,
    cert: PemSource | None = None,
    key: PemSource | None = None,
    *,
    fields: tuple[str, str, str] = ("tls_ca_file", "tls_cert_file", "tls_key_file"),
) -> grpc.ChannelCredentials:
    """TLS credentials for a client trusting `ca` (None: the system roots); `cert` and `key`
    identify the client under mutual TLS. `fields` name the three settings in refusals."""
    ca_field, cert_field, key_field = fields
    if (cert is None) != (key is None):
        raise InvalidArgument(
            "a client certificate needs its key and the key its certificate",
            field=cert_field if cert is None else key_field,
        )
    pair = None if cert is None or key is None else key_pair(cert, key, fields=fields[1:])
    return grpc.ssl_channel_credentials(
        root_certificates=None if ca is None else _certificates(ca, ca_field)[0],
        private_key=None if pair is None else pair[1],
        certificate_chain=None if pair is None else pair[0],
    )


def client_credentials(
    token: str,
    *,
    tls: bool = False,
    ca: PemSource | None = None,
    cert: PemSource | None = None,
    key: PemSource | None = None,
) -> grpc.ChannelCredentials:
    """Credentials for `grpc.aio.secure_channel` that send `token` with every call.

    With `tls`, the channel is TLS (`ca`, and `cert`/`key` under mutual TLS). Without, it is
    a plaintext connection that gRPC only opens to a loopback address, so a token is never
    sent in clear text across the network (for a remote `--insecure` dashboard, pass
    `auth.bearer_metadata(token)` per call on an insecure channel instead).
    """
    transport = (
        channel_credentials(ca, cert, key)
        if tls
        else grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
    )
    return grpc.composite_channel_credentials(transport, grpc.access_token_call_credentials(token))


def is_loopback_address(address: str) -> bool:
    """Whether a listen address ("host:port", "[v6]:port", "unix:path") stays on this host."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.strip()
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # An empty host or "0.0.0.0" means every interface; other names may resolve anywhere.
        return False


def check_listen_address(address: str, tls_enabled: bool, insecure: bool) -> None:
    """Refuse to serve plaintext beyond this host unless the operator said `--insecure`."""
    if tls_enabled or insecure or is_loopback_address(address):
        return
    raise InvalidArgument(
        f"{address} is reachable from other hosts but TLS is not configured: tokens would "
        f"cross the network in clear text. Configure TLS (tls_cert_file, tls_key_file), listen "
        f"on 127.0.0.1, or pass {INSECURE_FLAG} to accept that risk",
        field="listen",
    )


@dataclass(frozen=True, slots=True)
class Pki:
    """Files written by `generate_pki`."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def generate_pki(
    directory: str | os.PathLike[str],
    *,
    hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    client_name: str = "ikasched-client",
    days: int = 825,
    ca_name: str = "ikasched local CA",
) -> Pki:
    """A private CA, a server certificate for `hosts` and a client certificate, as PEM files
    in `directory` (keys 0600). For tests and `ikasched up`, not a production PKI."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    # Back-dated a little so a slightly slow clock elsewhere still accepts them.
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common_name: str, usage: x509.ObjectIdentifier, names: Sequence[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(names)), critical=False
            )
        return builder.sign(ca_key, hashes.SHA256()), key

    server_cert, server_key = leaf(
        hosts[0] if hosts else "ikasched",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [_general_name(h) for h in hosts],
    )
    client_cert, client_key = leaf(client_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    pki = Pki(
        ca_cert=out / "ca.pem",
        ca_key=out / "ca-key.pem",
        server_cert=out / "server.pem",
        server_key=out / "server-key.pem",
        client_cert=out / "client.pem",
        client_key=out / "client-key.pem",
    )
    for path, cert in (
        (pki.ca_cert, ca_cert),
        (pki.server_cert, server_cert),
        (pki.client_cert, client_cert),
    ):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, key in (
        (pki.ca_key, ca_key),
        (pki.server_key, server_key),
        (pki.client_key, client_key),
    ):
        write_private_file(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    return pki


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
