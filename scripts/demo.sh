#!/usr/bin/env bash
# The main job: start the collector on its embedded store, run the alpha sweep, query it;
# then an unchanged PyTorch script under `runlog run` and an MLflow client script.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_DIR="${DEMO_DIR:-.runlog-demo}"
# 4318/4317 are OpenTelemetry's standard ports: any OTel collector (or another runlog) may hold
# them. A taken default port is replaced by a free one; ports the user chose must be free.
FIXED=$( [ -n "${RUNLOG_DEMO_PORT:-}${RUNLOG_DEMO_GRPC_PORT:-}" ] && echo --fixed || true )
read -r PORT GRPC_PORT < <(python scripts/demo_ports.py "${RUNLOG_DEMO_PORT:-4318}" \
    "${RUNLOG_DEMO_GRPC_PORT:-4317}" $FIXED) || exit 1
[ -n "${PORT:-}" ] || exit 1
export RUNLOG_ENDPOINT="http://127.0.0.1:${PORT}"
export RUNLOG_SPOOL_DIR="${DEMO_DIR}/spool"
rm -rf "$DEMO_DIR/data" "$DEMO_DIR/spool" "$DEMO_DIR/work"   # a fresh store each time: the same table every run
mkdir -p "$DEMO_DIR"

runlog collector --data-dir "$DEMO_DIR/data" --port "$PORT" --grpc-port "$GRPC_PORT" \
    --no-replay >"$DEMO_DIR/collector.log" 2>&1 &
COLLECTOR=$!
trap 'kill $COLLECTOR 2>/dev/null; wait $COLLECTOR 2>/dev/null || true' EXIT

# Wait for *this* collector's ready line (it holds the port then), not for whatever answers
# on the port: a server someone else started there must never receive the demo's runs.
READY="runlog collector listening on http://127.0.0.1:${PORT} "
for _ in $(seq 1 150); do
    if grep -qF "$READY" "$DEMO_DIR/collector.log"; then
        break
    fi
    if ! kill -0 "$COLLECTOR" 2>/dev/null; then
        echo "make demo: the demo's collector did not start (nothing was written):" >&2
        tail -n 5 "$DEMO_DIR/collector.log" >&2; exit 1
    fi
    sleep 0.2
done
if ! grep -qF "$READY" "$DEMO_DIR/collector.log"; then
    echo "make demo: the demo's collector is not ready after 30 s; see $DEMO_DIR/collector.log" >&2
    exit 1
fi
echo "collector: $RUNLOG_ENDPOINT (data in $DEMO_DIR/data, log in $DEMO_DIR/collector.log)"

python examples/sweep/train_sweep.py

echo
echo "== runs of diabetes-sweep, best mse first =="
runlog runs -e diabetes-sweep --order-by "metrics.mse ASC"
BEST=$(runlog runs -e diabetes-sweep --order-by "metrics.mse ASC" --max-results 1 --json \
       | python -c "import json,sys; print(json.load(sys.stdin)[0]['run_id'])")
echo
echo "== best run =="
runlog show "$BEST"

ROOT="$PWD"
mkdir -p "$DEMO_DIR/work"   # the scripts below write outputs/ and model.pkl where they run
echo
echo "== an unchanged PyTorch script, recorded by runlog run =="
(cd "$DEMO_DIR/work" && runlog run -e torch-mlp --name mlp -- python "$ROOT/examples/autolog/torch_mlp.py")
MLP=$(runlog runs -e torch-mlp --max-results 1 --json \
      | python -c "import json,sys; print(json.load(sys.stdin)[0]['run_id'])")
runlog metrics "$MLP"

echo
echo "== an MLflow client script, logging into the same collector =="
(cd "$DEMO_DIR/work" && python "$ROOT/examples/mlflow_client.py" 2>&1 | grep -v "View ")
runlog runs -e experiment_with_mlflow

echo
echo "== studio: the best run of the sweep =="
echo "$RUNLOG_ENDPOINT/#/runs/$BEST"
echo "(the demo's collector stops now; to browse: runlog collector --data-dir $DEMO_DIR/data --port $PORT --no-grpc --no-replay, then open that URL or run: runlog ui $BEST)"
