# Shared by .ci/install, .ci/run and .ci/demo: timed stages.
set -uo pipefail
export PIP_INDEX_URL="${PIP_INDEX_URL:-file:///opt/pypi/simple}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
CI_T0=${CI_T0:-$(date +%s)}
export CI_T0
FAILED_STAGES=()
# stage NAME CMD...: runs CMD, prints its duration; a failure is recorded (see finish) and, for
# install stages (STAGE_FATAL=1), ends the script at once.
stage() {
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "::stage:: $name"
  "$@"
  local rc=$?
  echo "::stage:: $name took $(( $(date +%s) - t0 )) s (total $(( $(date +%s) - CI_T0 )) s)$([ $rc -ne 0 ] && echo " FAILED (exit $rc)")"
  if [ $rc -ne 0 ]; then
    FAILED_STAGES+=("$name")
    if [ "${STAGE_FATAL:-0}" = 1 ]; then exit $rc; fi
  fi
  return 0
}
finish() {
  if [ ${#FAILED_STAGES[@]} -gt 0 ]; then
    echo "::stage:: FAILED stages: ${FAILED_STAGES[*]}"
    exit 1
  fi
  echo "::stage:: all stages passed in $(( $(date +%s) - CI_T0 )) s"
}
