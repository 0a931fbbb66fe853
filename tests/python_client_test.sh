#!/usr/bin/env bash
# The Python client (clients/python) against the real pipeline: its pytest
# suite starts ingest, scoring and notify from BIN_DIR over the Kafka and
# Redis scripts/test.sh started (kill -9 of notify during a watch, of ingest
# during a publish).
#   tests/python_client_test.sh BIN_DIR SRC_DIR
set -euo pipefail
export REBOUND_BIN_DIR=${1:?usage: python_client_test.sh BIN_DIR SRC_DIR}
export REBOUND_SRC_DIR=${2:?usage: python_client_test.sh BIN_DIR SRC_DIR}
: "${REBOUND_KAFKA_BROKERS:?REBOUND_KAFKA_BROKERS is not set: run the tests with scripts/test.sh}"
: "${REBOUND_REDIS_ADDR:?REBOUND_REDIS_ADDR is not set: run the tests with scripts/test.sh}"
source "$REBOUND_SRC_DIR/scripts/lib.sh"
ensure_python_client
cd "$REBOUND_SRC_DIR/clients/python"
exec "$REBOUND_PYTHON" -m pytest -q -p no:cacheprovider --durations=5 tests
