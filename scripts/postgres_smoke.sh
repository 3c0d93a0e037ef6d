#!/usr/bin/env bash
# `make test-postgres`: the Ray smoke sweep, logged through `mlflow server` to a PostgreSQL
# backend store (issue 8).
#
# 1. Installs PostgreSQL from Debian's packages (`apt-get install postgresql`; needs root) and the
#    pinned PostgreSQL driver MLflow needs (psycopg 3, into .venv; only this script installs it).
#    SQLAlchemy 2.1 (MLflow's database layer) reads `postgresql://` as `postgresql+psycopg://`:
#    psycopg 3, not psycopg2.
# 2. Starts a throwaway PostgreSQL cluster in a temporary folder, bound to 127.0.0.1 on a free port
#    (trust authentication: nothing but this machine can connect), and creates the database `mlflow`.
# 3. Starts the team tracking server the way `make mlflow-server` does
#    (`python -m experiments mlflow-server --backend-store-uri postgresql://...`, served artifacts).
# 4. Runs `python -m experiments run long_dependency --profile smoke --executor ray --workers 2`
#    against it, twice (the second run must resume: nothing to train, no duplicates), and checks the
#    runs through MLflow's client and directly in PostgreSQL's `runs` table.
# 5. Stops the server and the cluster and removes the folder (PostgreSQL stays installed).
#
# Environment: PY (default .venv/bin/python), KEEP=1 keeps the temporary folder for a look.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PSYCOPG_REQUIREMENT="psycopg[binary]==3.3.9"  # newest release for Python 3.11 (2026-11)
EXPERIMENT=long_dependency
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
started_at=$(date +%s)
say() { printf '[postgres-smoke %4ss] %s\n' "$(( $(date +%s) - started_at ))" "$*"; }

# --- 1. packages --------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "postgres_smoke.sh installs PostgreSQL with apt-get: run it as root (or in a root CI container)." >&2
  exit 2
fi
say "apt-get install postgresql"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends postgresql >/dev/null
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
say "PostgreSQL $("$PG_BIN/postgres" --version | awk "{print \$3}") in $PG_BIN"
"$PY" -c "import ray" 2>/dev/null || { echo "ray is missing: $PY -m pip install -r requirements-ray.txt" >&2; exit 2; }
"$PY" -m pip install --quiet --disable-pip-version-check "$PSYCOPG_REQUIREMENT"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- 2. a throwaway PostgreSQL cluster on loopback ----------------------------------------------
WORK=$(mktemp -d /tmp/vrl-postgres-smoke.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/pgdata"
PG_PORT=$(free_port)
SERVER_PID=""
cleanup() {
  status=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    # The whole process group: `mlflow server` starts uvicorn and job-runner processes.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 -- "-$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -f "$PGDATA/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ] || [ $status -ne 0 ]; then
    echo "Kept $WORK (logs: mlflow-server.log, postgres.log, sweep-*.log)."
  else
    rm -rf "$WORK"
  fi
  exit $status
}
trap cleanup EXIT INT TERM

mkdir -p "$PGDATA" "$WORK/socket" && chown postgres:postgres "$PGDATA" "$WORK/socket"
say "initdb + start PostgreSQL on 127.0.0.1:$PG_PORT"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA" --auth=trust --username=postgres --encoding=UTF8 >/dev/null
touch "$WORK/postgres.log" && chown postgres:postgres "$WORK/postgres.log"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/socket" start >/dev/null
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q -t -A)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE mlflow"
BACKEND="postgresql://postgres@127.0.0.1:$PG_PORT/mlflow"

# --- 3. the tracking server, as `make mlflow-server ARGS=...` starts it --------------------------
MLFLOW_PORT=$(free_port)
# MLflow 3 servers also start seven job-runner processes (GenAI jobs): not needed for this check.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}
say "mlflow server on 127.0.0.1:$MLFLOW_PORT, backend store $BACKEND"
setsid "$PY" -m experiments mlflow-server --host 127.0.0.1 --port "$MLFLOW_PORT" \
  --backend-store-uri "$BACKEND" --artifacts-destination "$WORK/artifacts" --workers 1 \
  >"$WORK/mlflow-server.log" 2>&1 &
SERVER_PID=$!  # setsid: its own process group (and session), stopped as a whole in cleanup
export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT"
for _ in $(seq 180); do
  curl -fsS "$MLFLOW_TRACKING_URI/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 40 "$WORK/mlflow-server.log"; exit 1; }
  sleep 1
done
curl -fsS "$MLFLOW_TRACKING_URI/health" >/dev/null || { tail -n 40 "$WORK/mlflow-server.log"; exit 1; }

# The sweep's own settings: the server above, TensorBoard logs in the temporary folder.
cat >"$WORK/mlflow.yaml" <<EOF
tracking_uri: $MLFLOW_TRACKING_URI
tensorboard_root: tb_logs
EOF
export VRL_MLFLOW_CONFIG="$WORK/mlflow.yaml"

# --- 4. the smoke sweep through Ray, twice --------------------------------------------------------
for attempt in 1 2; do
  say "sweep $attempt: python -m experiments run $EXPERIMENT --profile smoke --executor ray --workers 2"
  if ! "$PY" -m experiments run "$EXPERIMENT" --profile smoke --executor ray --workers 2 \
      >"$WORK/sweep-$attempt.log" 2>&1; then
    tail -n 60 "$WORK/sweep-$attempt.log"
    exit 1
  fi
done
grep -q "Skipping 8 grid point(s) already FINISHED; 0 to run" "$WORK/sweep-2.log" \
  || { echo "The second sweep did not resume:"; tail -n 30 "$WORK/sweep-2.log"; exit 1; }

say "checking the runs through MLflow and in PostgreSQL"
"$PY" - "$EXPERIMENT" <<'EOF'
import collections
import sys

import mlflow

from experiments import config, tracking

name = sys.argv[1]
client = mlflow.MlflowClient()
experiment = client.get_experiment_by_name(name)
parents = client.search_runs([experiment.experiment_id], filter_string="tags.`sweep.config_hash` != ''")
assert len(parents) == 1, f"expected one parent run, got {len(parents)}"
parent = parents[0]
assert parent.info.status == "FINISHED", parent.info.status
children = tracking.child_runs(client, experiment.experiment_id, parent.info.run_id)
points = [p.name for p in config.expand_grid(config.load_config(name, "smoke"))]
names = collections.Counter(run.data.tags["grid_point"] for run in children)
assert sorted(names) == sorted(points) and set(names.values()) == {1}, names
assert all(run.info.status == "FINISHED" for run in children), [(r.info.run_name, r.info.status) for r in children]
assert all(run.data.tags.get("executor") == "ray" for run in children)
print(f"MLflow: parent {parent.info.run_name} FINISHED with {len(children)} FINISHED children, each grid point once")
EOF
rows=$("${PSQL[@]}" -d mlflow -c "SELECT status || ':' || count(*) FROM runs WHERE lifecycle_stage = 'active' GROUP BY status")
echo "PostgreSQL runs table (active runs by status): $rows"
[ "$rows" = "FINISHED:9" ] || { echo "expected FINISHED:9 (1 parent + 8 children) in PostgreSQL" >&2; exit 1; }
say "passed"
