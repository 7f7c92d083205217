#!/usr/bin/env bash
# SagaAspire's one entry point.
#   ./build.sh run [options]   build, then start the whole system through the Aspire AppHost (--help lists the options)
#   ./build.sh test [args]     build and run every test
#   ./build.sh build           build everything
#   ./build.sh bootstrap       only prepare the machine (see eng/bootstrap.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
configuration=${CONFIGURATION:-Debug}

build() {
  bash eng/bootstrap.sh
  dotnet build SagaAspire.sln -c "$configuration" --nologo -v q -clp:NoSummary "$@"
}

test_all() {
  build
  local log; log=$(mktemp)
  local status=0
  # One test assembly at a time: the end-to-end tests run the whole system, and two cores are all we have.
  dotnet test SagaAspire.sln -c "$configuration" --no-build --nologo -m:1 \
    --results-directory artifacts/test-results --logger "trx" "$@" 2>&1 | tee "$log" || status=$?
  # One closing line with the totals of every test assembly.
  awk '/(Passed|Failed)!  - Failed:/ {
         for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1));
           if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
       END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  rm -f "$log"
  return "$status"
}

run_usage() {
  cat <<'USAGE'
Usage: ./build.sh run [options] [--<AppHost setting>=<value> ...]

Builds, then runs the Aspire AppHost (SagaAspire.AppHost) in the Development environment, with
the dashboard on http://localhost:15270. Ctrl+C (or SIGTERM) stops everything it started.

  --infrastructure <i>   containers | embedded | existing (default: containers where Docker or
                         Podman answers, else embedded)
  --kafka <servers>      your Kafka cluster (host:port[,host:port]); with --postgres: existing infrastructure
  --postgres <conn>      your PostgreSQL server (an Npgsql connection string whose user may create databases)
  --replicas <n>         run every service n times; or service=n[,service=n]
  --base-port <n>        order, orchestrator, inventory, payment on n..n+3 (default 5080; 0: ports of Aspire's choosing)
  --reset                delete the embedded PostgreSQL's data (.data/postgres) first
  --help                 this text

Any AppHost setting can be given as --Section:Key=value, for example --SagaAspire:PgAdmin=true or
--SagaAspire:PersistData=false; README.md lists them.
USAGE
}

run() {
  local settings=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --help|-h) run_usage; return 0 ;;
      --reset) rm -rf .data/postgres; echo "Reset: removed .data/postgres" ;;
      --infrastructure) settings+=("--SagaAspire:Infrastructure=${2:?--infrastructure needs a value}"); shift ;;
      --replicas) settings+=("--SagaAspire:Replicas=${2:?--replicas needs a value}"); shift ;;
      --base-port) settings+=("--SagaAspire:BasePort=${2:?--base-port needs a value}"); shift ;;
      --kafka) settings+=("--SagaAspire:Infrastructure=existing" "--ConnectionStrings:kafka=${2:?--kafka needs a value}"); shift ;;
      --postgres) settings+=("--SagaAspire:Infrastructure=existing" "--ConnectionStrings:postgres=${2:?--postgres needs a value}"); shift ;;
      --*=*) settings+=("$1") ;;
      *) echo "./build.sh run: unknown option '$1'" >&2; run_usage >&2; return 2 ;;
    esac
    shift
  done
  bash eng/bootstrap.sh
  dotnet build SagaAspire.AppHost -c "$configuration" --nologo -v q -clp:NoSummary
  # What the AppHost's "http" launch profile sets (SagaAspire.AppHost/Properties/launchSettings.json),
  # for the AppHost run directly rather than under `dotnet run`, so that Ctrl+C and SIGTERM reach
  # it and it stops everything it started. Values already in the environment win.
  export DOTNET_ENVIRONMENT=${DOTNET_ENVIRONMENT:-Development} ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
  export ASPNETCORE_URLS=${ASPNETCORE_URLS:-http://localhost:15270}
  export ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=${ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL:-http://localhost:19270}
  export ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=${ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL:-http://localhost:20270}
  export ASPIRE_ALLOW_UNSECURED_TRANSPORT=${ASPIRE_ALLOW_UNSECURED_TRANSPORT:-true}
  # The AppHost reads its settings once. Left to reload them, its host watches its content root
  # (the current folder: this repository) recursively, and every write the embedded PostgreSQL
  # makes under .data/postgres wakes it: about 2 % of a core at 20 sagas/s (docs/benchmarks.md).
  export DOTNET_hostBuilder__reloadConfigOnChange=${DOTNET_hostBuilder__reloadConfigOnChange:-false}
  exec "SagaAspire.AppHost/bin/$configuration/net10.0/SagaAspire.AppHost" "${settings[@]}"
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  run) run "$@" ;;
  test) test_all "$@" ;;
  build) build "$@" ;;
  bootstrap) bash eng/bootstrap.sh ;;
  *) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; [ "$command" = help ] || exit 2 ;;
esac
