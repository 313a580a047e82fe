"""Helpers for the model server tests: a self-signed certificate, free ports, a server deployed on the test
session's Ray instance, and the parity model's clip."""

from __future__ import annotations

import datetime
import ipaddress
import os
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


TOKEN_DELAY_S = 0.03  # a slowed model: a window of a few hundred tokens takes seconds, long enough to kill mid-way


class SlowModel:
    """The parity model, streaming each token ``TOKEN_DELAY_S`` late: a window is in flight long enough for a
    test to kill its server half-way."""

    def __init__(self, model) -> None:
        self._model = model
        self.num_frames = model.num_frames

    def analyze(self, *args, on_token=None, **kwargs):
        def slow(text: str) -> None:
            import time

            time.sleep(TOKEN_DELAY_S)
            if on_token is not None:
                on_token(text)

        return self._model.analyze(*args, on_token=slow, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)


def slow_parity_loader(model_dir, device="cpu", dtype="float32") -> SlowModel:
    from core.model import load_model

    return SlowModel(load_model(str(model_dir), device=device, dtype=dtype))


class DyingWorker:
    """A cluster worker whose process dies (as in a crash or a lost node) the first time it is handed the clip
    named by ``die_on``; a marker file makes it die once only, whichever worker gets the clip."""

    die_on = "c03.mp4"

    def __init__(self, *args, **kwargs) -> None:
        from core.evaluation.distributed import ClipWorker

        self._inner = ClipWorker(*args, **kwargs)

    def ready(self) -> int:
        return self._inner.ready()

    def analyze(self, jobs):
        marker = Path(jobs[0][1]).parent / ".died"
        if any(Path(path).name == self.die_on for _, path, _ in jobs) and not marker.exists():
            marker.write_text("once")
            os._exit(1)
        return self._inner.analyze(jobs)
