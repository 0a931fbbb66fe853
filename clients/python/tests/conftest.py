"""The real pipeline for the client's tests: rebound-ingest, rebound-scoring
and rebound-notify (from REBOUND_BIN_DIR, config from REBOUND_SRC_DIR) on
free loopback ports, over the Kafka and Redis in REBOUND_KAFKA_BROKERS and
REBOUND_REDIS_ADDR (scripts/test.sh starts them). Missing settings fail the
tests, they never skip."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import pytest

from rebound_client import Client, Tls


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with tests/python_client_test.sh "
                    "under scripts/test.sh, which starts Kafka and Redis", pytrace=False)
    return value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pipeline:
    """The three services of one test, each restartable on its port."""

    def __init__(self, tls_dir: Path | None = None) -> None:
        # tls_dir: ca.pem, server.pem, server.key: every service serves TLS.
        self.tls_dir = tls_dir
        self.bin = Path(_env("REBOUND_BIN_DIR"))
        self.src = Path(_env("REBOUND_SRC_DIR"))
        brokers = _env("REBOUND_KAFKA_BROKERS")
        redis = _env("REBOUND_REDIS_ADDR")
        run = f"py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tenant = run
        self.token = uuid.uuid4().hex
        self.ports = {name: _free_port() for name in ("ingest", "scoring", "notify")}
        self.logs = Path(tempfile.mkdtemp(prefix="rebound-pytest-"))
        common = [f"--kafka-brokers={brokers}", "--topic-partitions=2",
                  f"--tenant-tokens={self.tenant}:{self.token}", "--metrics-listen=127.0.0.1:0"]
        if tls_dir is not None:
            common += [f"--tls-cert={tls_dir / 'server.pem'}", f"--tls-key={tls_dir / 'server.key'}"]
        policy = f"--retry-policy={self.src / 'config/retry_policy.json'}"
        self.commands = {
            "ingest": [str(self.bin / "services/ingest/rebound-ingest"), *common,
                       f"--topic={run}-events"],
            "scoring": [str(self.bin / "services/scoring/rebound-scoring"), *common,
                        f"--topic={run}-events", f"--redis-addr={redis}",
                        f"--group-id={run}-scoring", f"--verdicts-topic={run}-verdicts",
                        f"--dead-letter-topic={run}-dlq",
                        f"--classifier-config={self.src / 'config/classifier.json'}", policy],
            "notify": [str(self.bin / "services/notify/rebound-notify"), *common,
                       f"--redis-addr={redis}", f"--group-id={run}-notify",
                       f"--verdicts-topic={run}-verdicts", policy],
        }
        self.procs: dict[str, subprocess.Popen] = {}
        for name in self.commands:
            self.start(name)
        for name in self.commands:
            self.wait_serving(name)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [*self.commands[name], f"--listen={self.address(name)}"],
            stdout=log, stderr=subprocess.STDOUT)

    def wait_serving(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._channel(name) as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check",
                                   request_serializer=lambda _: b"",
                                   response_deserializer=lambda b: b)
            while time.monotonic() < deadline:
                if self.procs[name].poll() is not None:
                    break
                try:
                    # HealthCheckResponse{status = SERVING (1)}: field 1, varint 1.
                    if check(None, timeout=1) == b"\x08\x01":
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"{name} did not become SERVING within {timeout}s:\n{tail}", pytrace=False)

    def _channel(self, name: str) -> grpc.Channel:
        if self.tls_dir is None:
            return grpc.insecure_channel(self.address(name))
        creds = grpc.ssl_channel_credentials((self.tls_dir / "ca.pem").read_bytes())
        return grpc.secure_channel(self.address(name), creds)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(timeout=60)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.kill(name, sig)
        self.start(name)
        self.wait_serving(name)

    def client(self, token: str | None = None, tls: Tls | None = None) -> Client:
        return Client(self.tenant, ingest=self.address("ingest"),
                      scoring=self.address("scoring"), notify=self.address("notify"),
                      token=self.token if token is None else token, tls=tls)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def pipeline():
    p = Pipeline()
    yield p
    p.stop()


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """A CA, and a server certificate it signed for 127.0.0.1 (openssl)."""
    script = (
        "set -e; for ca in ca other-ca; do openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
        "-subj /CN=$ca -keyout $ca.key -out $ca.pem; done; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile server.ext -out server.pem")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"openssl: {done.stderr[-2000:]}", pytrace=False)
    return tmp_path


@pytest.fixture
def tls_pipeline(tls_dir: Path):
    p = Pipeline(tls_dir)
    yield p
    p.stop()
