#!/usr/bin/env bash
# Start a child program with the run's OTel environment (OTEL_EXPORTER_OTLP_ENDPOINT,
# OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_PROTOCOL, as `run.otel_environment()` gives
# them): whatever it logs lands in the parent's run. PYTHON picks the interpreter.
set -euo pipefail
: "${OTEL_RESOURCE_ATTRIBUTES:?set it, e.g. from run.otel_environment()}"
: "${OTEL_EXPORTER_OTLP_ENDPOINT:?set it, e.g. from run.otel_environment()}"
exec "${PYTHON:-python3}" "$(dirname "$0")/child_otel.py" "$@"
