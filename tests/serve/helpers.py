"""Helpers for the model server tests: a self-signed certificate, free ports, a server deployed on the test
session's Ray instance, and the parity model's clip."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.conftest import PARITY_DIR

CHECKPOINT = PARITY_DIR / "checkpoint"
INSTRUCTION = "As an emotional recognition expert, which emotion does the person show?"
NOT_LOOPBACK_ALIAS = "127.0.0.2"  # a loopback alias the server is bound to as if it faced a network


def self_signed(folder: Path, ip: str = NOT_LOOPBACK_ALIAS) -> tuple[Path, Path]:
    """A certificate for ``ip`` and its key (mode 600), made here; the certificate is also the client's CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "r1omni test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def window(seed: int, n_frames: int = 8, size: tuple[int, int] = (96, 128)) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [n, H, W, 3] and 2 s of audio, different for every seed."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n_frames, *size, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(32_000)).astype(np.float32)
    return frames, audio


@contextmanager
def deployed(http: dict, **config_kwargs):
    """The model server on the test session's Ray instance with these HTTP options; shut down afterwards.
    Serve's HTTP options belong to the cluster, so each server is a Serve instance of its own."""
    from ray import serve

    from core.serve.app import APP_NAME, ServerConfig, build_app

    config = ServerConfig(model_dir=str(CHECKPOINT), device="cpu", dtype="float32",
                          **{"warm_up": False, **config_kwargs})
    serve.start(http_options=http)
    try:
        serve.run(build_app(config, cpus_per_replica=0.5), name=APP_NAME, route_prefix="/", blocking=False)
        yield config
    finally:
        serve.shutdown()
