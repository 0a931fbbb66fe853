"""The real pipeline of the client's tests: rebound-ingest, rebound-scoring
and rebound-notify (from REBOUND_BIN_DIR, config from REBOUND_SRC_DIR) on
free loopback ports, over the Kafka and Redis in REBOUND_KAFKA_BROKERS and
REBOUND_REDIS_ADDR (scripts/test.sh starts them). Each pipeline has topics,
consumer groups and a tenant of its own. Missing settings fail the tests,
they never skip."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Optional, Sequence

import grpc
import pytest

from rebound_client import Client, Tls


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with tests/python_client_test.sh "
                    "BUILD_DIR SRC_DIR and Kafka and Redis running (scripts/test.sh starts "
                    "them; or `source .stack-dev/env`)", pytrace=False)
    return value


_given_ports: set[int] = set()


def _free_port() -> int:
    """A loopback port that was free a moment ago, never one given before in
    this process: the kernel may hand a closed port out again at once, and
    two services of a pipeline on one port is a broken pipeline."""
    for _ in range(64):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    pytest.fail("no fresh loopback port in 64 tries", pytrace=False)


def _openssl(script: str, cwd: Path) -> None:
    done = subprocess.run(["bash", "-c", "set -e; " + script], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"openssl: {done.stderr[-2000:]}", pytrace=False)


class Pipeline:
    """The three services of one test, each restartable on its port.

    tls_dir (ca.pem, server.pem, server.key): every service serves TLS.
    mutual_tls: they also require a client certificate signed by
    client-ca.pem; one for the tenant (CN = tenant) is issued into tls_dir
    as client.pem / client.key. ingest_args: more flags for ingest. logs:
    where the services' logs go (the test's pytest temporary directory,
    which pytest prunes; a fresh temporary directory if not given)."""

    def __init__(self, tls_dir: Optional[Path] = None, mutual_tls: bool = False,
                 ingest_args: Sequence[str] = (), logs: Optional[Path] = None) -> None:
        self.tls_dir = tls_dir
        self.mutual_tls = mutual_tls
        self.bin = Path(_env("REBOUND_BIN_DIR"))
        self.src = Path(_env("REBOUND_SRC_DIR"))
        self.brokers = _env("REBOUND_KAFKA_BROKERS")
        redis = _env("REBOUND_REDIS_ADDR")
        self.run = f"py-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tenant = self.run
        self.token = uuid.uuid4().hex
        self.events_topic = f"{self.run}-events"
        self.ports = {name: _free_port() for name in ("ingest", "scoring", "notify")}
        self.logs = logs if logs is not None else Path(tempfile.mkdtemp(prefix="rebound-pytest-"))
        self.logs.mkdir(parents=True, exist_ok=True)
        common = [f"--kafka-brokers={self.brokers}", "--topic-partitions=2",
                  f"--tenant-tokens={self.tenant}:{self.token}",
                  "--metrics-listen=127.0.0.1:0"]
        if tls_dir is not None:
            common += [f"--tls-cert={tls_dir / 'server.pem'}",
                       f"--tls-key={tls_dir / 'server.key'}"]
            if mutual_tls:
                self._issue_client_certificate()
                common.append(f"--tls-client-ca={tls_dir / 'client-ca.pem'}")
        policy = f"--retry-policy={self.src / 'config/retry_policy.json'}"
        self.commands = {
            "ingest": [str(self.bin / "services/ingest/rebound-ingest"), *common,
                       f"--topic={self.events_topic}", *ingest_args],
            "scoring": [str(self.bin / "services/scoring/rebound-scoring"), *common,
                        f"--topic={self.events_topic}", f"--redis-addr={redis}",
                        f"--group-id={self.run}-scoring",
                        f"--verdicts-topic={self.run}-verdicts",
                        f"--dead-letter-topic={self.run}-dlq",
                        f"--classifier-config={self.src / 'config/classifier.json'}", policy],
            "notify": [str(self.bin / "services/notify/rebound-notify"), *common,
                       f"--redis-addr={redis}", f"--group-id={self.run}-notify",
                       f"--verdicts-topic={self.run}-verdicts", policy],
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name in self.commands:
                self.start(name)
            for name in self.commands:
                self.wait_serving(name)
        except BaseException:
            self.stop()
            raise

    def _issue_client_certificate(self) -> None:
        assert self.tls_dir is not None
        _openssl(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=client-ca "
            "-keyout client-ca.key -out client-ca.pem; "
            f"openssl req -newkey rsa:2048 -nodes -subj /CN={self.tenant} "
            "-keyout client.key -out client.csr; "
            "openssl x509 -req -in client.csr -CA client-ca.pem -CAkey client-ca.key "
            "-CAcreateserial -days 2 -out client.pem", self.tls_dir)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def tls(self) -> Optional[Tls]:
        """What a client of this pipeline needs: its CA and, for mutual TLS,
        the tenant's client certificate."""
        if self.tls_dir is None:
            return None
        ca = (self.tls_dir / "ca.pem").read_bytes()
        if not self.mutual_tls:
            return Tls(root_certificates=ca)
        return Tls(root_certificates=ca, private_key=(self.tls_dir / "client.key").read_bytes(),
                   certificate_chain=(self.tls_dir / "client.pem").read_bytes())

    def start(self, name: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                [*self.commands[name], f"--listen={self.address(name)}"],
                stdout=log, stderr=subprocess.STDOUT)

    def wait_serving(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._channel(name) as ch:
            check: grpc.UnaryUnaryMultiCallable[None, bytes] = ch.unary_unary(
                "/grpc.health.v1.Health/Check", request_serializer=lambda _: b"",
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
        pytest.fail(f"{name} did not become SERVING within {timeout}s:\n{self.log(name)}",
                    pytrace=False)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def _channel(self, name: str) -> grpc.Channel:
        tls = self.tls()
        if tls is None:
            return grpc.insecure_channel(self.address(name))
        creds = grpc.ssl_channel_credentials(tls.root_certificates, tls.private_key,
                                             tls.certificate_chain)
        return grpc.secure_channel(self.address(name), creds)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(timeout=60)

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stops `name` with `sig`, starts it again on its port, waits until
        it serves."""
        self.kill(name, sig)
        self.start(name)
        self.wait_serving(name)

    def client(self, token: Optional[str] = None, tls: Optional[Tls] = None) -> Client:
        """A client of the tenant: the pipeline's token unless `token` is
        given ("" sends none), the pipeline's TLS unless `tls` is given."""
        return Client(self.tenant, ingest=self.address("ingest"),
                      scoring=self.address("scoring"), notify=self.address("notify"),
                      token=self.token if token is None else token or None,
                      tls=self.tls() if tls is None else tls)

    def topic_records(self) -> int:
        """Records in the events topic (rebound-topic-peek reads it to its
        end)."""
        peek = subprocess.run(
            [str(self.bin / "tools/rebound-topic-peek"), f"--kafka-brokers={self.brokers}",
             f"--topic={self.events_topic}", "--show=0"],
            capture_output=True, text=True, timeout=120)
        found = re.search(r": (\d+) records", peek.stdout)
        if peek.returncode != 0 or not found:
            pytest.fail(f"rebound-topic-peek: {peek.stdout}{peek.stderr}", pytrace=False)
        return int(found.group(1))

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def make_tls_dir(path: Path) -> Path:
    """Two CAs (ca, other-ca), and a server certificate `ca` signed for
    127.0.0.1, in `path` (openssl)."""
    _openssl(
        "for ca in ca other-ca; do openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
        "-subj /CN=$ca -keyout $ca.key -out $ca.pem; done; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
        "-out server.csr; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile server.ext -out server.pem", path)
    return path


# The make_pipeline fixture: Pipeline's arguments, a started Pipeline.
MakePipeline = Callable[..., Pipeline]
