# Shared by .ci/install, .ci/run and .ci/demo: timed stages.
set -euo pipefail
export PIP_INDEX_URL="${PIP_INDEX_URL:-file:///opt/pypi/simple}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
CI_T0=$(date +%s)
stage() {
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "::stage:: $name"
  "$@"
  local rc=$?
  echo "::stage:: $name took $(( $(date +%s) - t0 )) s (total $(( $(date +%s) - CI_T0 )) s)"
  return $rc
}
