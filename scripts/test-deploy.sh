#!/usr/bin/env bash
# npm run test:deploy (make test-deploy): botfleet deployed the three ways users deploy it, with the
# real tools, on this machine. Stages, each timed:
#   cluster     the local Kubernetes 1.20 and its Docker: install (cached, idempotent) and up
#   chart       make chart-check: helm lint --strict and helm template of every values file
#   image       make image: docker build of the Dockerfile, once; compose and the cluster use it
#   compose     test/deploy-compose.test.ts: make up on host networking writing the missing env file's
#               tokens, a stranger refused, job to datalake, 5 bots, Add Bot
#   controller  test/deploy-controller-*.test.ts: the controller against the real API server as the
#               chart's ServiceAccount (scale, drain-first, ConfigMap state, watch, HTTP contract)
#   helm-sqlite test/deploy-helm-sqlite.test.ts: helm install/test/upgrade/uninstall, the tokens
#               Secret, dashboard scaling, drain-first scale-down, a busy bot's job handed back,
#               kubectl logs (test/deploy-helm-scenario.ts)
#   helm-pg     test/deploy-helm-postgres.test.ts: the same with 2 servers on PostgreSQL
#   cluster down (only when this script started the cluster)
# It cleans up whatever happens: compose down, test namespaces deleted, the cluster stopped if it
# started it. The local cluster's scripts are found in BOTFLEET_CLUSTER_DIR (default ../shared/cluster
# beside this checkout). Without Docker, docker-compose, Chromium, root or those scripts it prints one
# line naming what is missing and exits 0; under CI=true it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_DIR=${BOTFLEET_CLUSTER_DIR:-$(cd .. && pwd)/shared/cluster}
STATE=${BOTFLEET_CLUSTER_STATE:-/tmp/local-cluster}
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
export BOTFLEET_CLUSTER_DIR=$CLUSTER_DIR
export BOTFLEET_IMAGE=${BOTFLEET_IMAGE:-botfleet:dev}
# The local Docker has no bridge network: builds use the host's (for npm and Debian's mirror only).
export DOCKER_BUILDKIT=0 DOCKER_BUILD_FLAGS=--network=host

missing=()
[ "$(id -u)" = 0 ] || missing+=("root (the local cluster needs it)")
command -v docker >/dev/null 2>&1 || missing+=(docker)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ -x "$CHROMIUM" ] || missing+=("chromium ($CHROMIUM)")
[ -x "$CLUSTER_DIR/up" ] || missing+=("the local cluster scripts ($CLUSTER_DIR; set BOTFLEET_CLUSTER_DIR)")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "test:deploy: missing ${missing[*]}; CI requires them" >&2
    exit 1
  fi
  echo "test:deploy: skipped (missing: ${missing[*]})"
  exit 0
fi

summary=()
t_all=$(date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
seconds() { printf '%d.%d s' $(($1 / 1000)) $((($1 % 1000) / 100)); }
# stage NAME COMMAND...: runs it, records its time; a failure ends the run (the trap cleans up).
stage() {
  local name=$1 t0
  shift
  echo "=== test:deploy stage $name: $*"
  t0=$(date +%s%N)
  if "$@"; then
    summary+=("$(printf '%-12s %9s  ok' "$name" "$(seconds "$(ms_since "$t0")")")")
  else
    local rc=$?
    summary+=("$(printf '%-12s %9s  FAILED (exit %d)' "$name" "$(seconds "$(ms_since "$t0")")" "$rc")")
    return "$rc"
  fi
}

apiserver_running() {
  local pid
  pid=$(cat "$STATE/kube-apiserver.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}
started_cluster=0
cleanup() {
  local rc=$?
  set +e
  if command -v kubectl >/dev/null 2>&1 && [ -n "${KUBECONFIG:-}" ]; then
    kubectl delete namespace -l botfleet.test/deploy=true --wait=false >/dev/null 2>&1
  fi
  # Compose needs the tokens to read its files, even to take them down: a throwaway env file, so the
  # checkout's .env is neither needed nor created.
  local env_dir
  env_dir=$(mktemp -d)
  make -s down COMPOSE_NETWORK=host V=1 COMPOSE_PROJECT_NAME=botfleet-deploy-test ENV_FILE="$env_dir/.env" >/dev/null 2>&1
  rm -rf "$env_dir"
  if [ "$started_cluster" = 1 ]; then stage "cluster-down" "$CLUSTER_DIR/down"; fi
  echo "=== test:deploy summary"
  printf '%s\n' "${summary[@]}"
  echo "total        $(seconds "$(ms_since "$t_all")")  $([ "$rc" = 0 ] && echo ok || echo FAILED)"
  exit "$rc"
}
trap cleanup EXIT

up_cluster() {
  "$CLUSTER_DIR/install" || return
  apiserver_running || started_cluster=1
  local exports
  exports=$("$CLUSTER_DIR/up") || return
  eval "$exports"
}
jest_stage() { npx jest --config jest.deploy.config.js "$@"; }

stage cluster up_cluster
stage chart make -s chart-check
stage image make -s image IMAGE="$BOTFLEET_IMAGE"
stage compose jest_stage test/deploy-compose.test.ts
stage controller jest_stage test/deploy-controller-
stage helm-sqlite jest_stage test/deploy-helm-sqlite.test.ts
stage helm-pg jest_stage test/deploy-helm-postgres.test.ts
