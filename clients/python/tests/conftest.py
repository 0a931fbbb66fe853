"""Fixtures: pipelines of the real services (pipeline.py), stopped after
each test, and TLS certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest

from pipeline import MakePipeline, Pipeline, make_tls_dir


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Iterator[MakePipeline]:
    """Starts pipelines (Pipeline's arguments); stops them after the test.
    Their logs go under the test's tmp_path (pytest keeps the last runs')."""
    started: list[Pipeline] = []

    def make(tls_dir: Optional[Path] = None, mutual_tls: bool = False,
             ingest_args: Sequence[str] = ()) -> Pipeline:
        logs = tmp_path / f"pipeline-{len(started)}-logs"
        started.append(Pipeline(tls_dir, mutual_tls, ingest_args, logs))
        return started[-1]

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def pipeline(make_pipeline: MakePipeline) -> Pipeline:
    """A plaintext pipeline with a bearer token."""
    return make_pipeline()


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """CAs and a server certificate (make_tls_dir)."""
    return make_tls_dir(tmp_path)
