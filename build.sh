#!/usr/bin/env bash
# SagaAspire's one entry point.
#   ./build.sh run [args]   start the whole system without containers (the DevHost)
#   ./build.sh test [args]  build and run every test this machine can run
#   ./build.sh build        build everything this machine can build
#   ./build.sh bootstrap    only prepare the machine (see eng/bootstrap.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Where the Aspire packages restore, the whole solution builds; elsewhere the solution filter
# leaves out the AppHost and the Aspire-based tests (they are not replaced by anything).
aspire_available() {
  local stamp=".nuget/local/.aspire-probe"
  if [ ! -f "$stamp" ]; then
    if dotnet restore SagaAspire.AppHost/SagaAspire.AppHost.csproj --nologo -v q >/dev/null 2>&1; then echo yes > "$stamp"; else echo no > "$stamp"; fi
  fi
  [ "$(cat "$stamp")" = yes ]
}

container_runtime_available() {
  { command -v docker >/dev/null && docker info >/dev/null 2>&1; } || { command -v podman >/dev/null && podman info >/dev/null 2>&1; }
}

solution() {
  if aspire_available; then
    echo SagaAspire.sln
    return
  fi
  echo "note: skipping SagaAspire.AppHost and its Aspire-based tests: the Aspire.* packages do not restore from this machine's NuGet sources." >&2
  # A solution filter of every project but the AppHost ones, made from the solution so it never drifts.
  local filter=artifacts/SagaAspire.WithoutAspire.slnf
  mkdir -p artifacts
  if [ ! -f "$filter" ] || [ SagaAspire.sln -nt "$filter" ]; then
    dotnet sln SagaAspire.sln list | tail -n +3 | grep -v AppHost | sed 's|.*|      "&",|; $ s|,$||' \
      | { printf '{\n  "solution": {\n    "path": "../SagaAspire.sln",\n    "projects": [\n'; cat; printf '    ]\n  }\n}\n'; } > "$filter"
  fi
  echo "$filter"
}

build() {
  bash eng/bootstrap.sh
  dotnet build "$(solution)" -c "${CONFIGURATION:-Debug}" --nologo -v q -clp:NoSummary "$@"
}

test_all() {
  bash eng/bootstrap.sh
  local sln; sln=$(solution)
  local filter=()
  if aspire_available && ! container_runtime_available; then
    echo "note: skipping the Aspire.Hosting.Testing tests: no container runtime (Docker or Podman) answers on this machine." >&2
    filter=(--filter "Category!=Aspire")
  fi
  dotnet build "$sln" -c "${CONFIGURATION:-Debug}" --nologo -v q -clp:NoSummary
  local log; log=$(mktemp)
  local status=0
  # One test assembly at a time: the end-to-end tests run four services, and two cores are all we have.
  dotnet test "$sln" -c "${CONFIGURATION:-Debug}" --no-build --nologo -m:1 "${filter[@]}" \
    --results-directory artifacts/test-results --logger "trx" "$@" 2>&1 | tee "$log" || status=$?
  # One closing line with the totals of every test assembly.
  awk '/(Passed|Failed)!  - Failed:/ {
         for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1));
           if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
       END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
  rm -f "$log"
  return "$status"
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  run)
    bash eng/bootstrap.sh
    exec dotnet run --project SagaAspire.DevHost -c "${CONFIGURATION:-Debug}" -- --configuration "${CONFIGURATION:-Debug}" "$@" ;;
  test) test_all "$@" ;;
  build) build "$@" ;;
  bootstrap) bash eng/bootstrap.sh ;;
  *) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; [ "$command" = help ] || exit 2 ;;
esac
