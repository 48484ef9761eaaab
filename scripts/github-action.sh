#!/usr/bin/env bash
# The run step of podguard's GitHub Action (action.yml): `podguard check` on
# the workspace, its findings in the log and as annotations, a SARIF file for
# github/codeql-action/upload-sarif, and the step's outputs. Runs anywhere
# with the same variables (tests/ci/action_test.sh runs it offline).
#
# Inputs (environment, set by action.yml from the action's inputs):
#   INPUT_PATHS        files and folders, relative to the workspace, separated
#                      by spaces or newlines (default .)
#   INPUT_CONFIG       PolicyConfig file (default: the contract profile)
#   INPUT_FAIL_ON      deny | warn | never (default deny)
#   INPUT_SARIF_FILE   where to write SARIF (default podguard.sarif)
#   INPUT_IMAGE        run this podguard image with docker instead of a
#                      podguard on PATH
#   INPUT_ANNOTATIONS  true | false: ::error/::warning/::notice lines per finding
# Where podguard comes from: INPUT_IMAGE; else `podguard` on PATH; else the
# image built from the action's own source ($GITHUB_ACTION_PATH, a few minutes).
# Outputs (to $GITHUB_OUTPUT when set): sarif-file, exit-code, findings.
# Exit status: podguard's (0 clean, 1 findings at or above fail-on, 2 bad
# input or usage).
set -uo pipefail

error() {
  echo "::error title=podguard action::$*"
  echo "podguard action: $*" >&2
  exit 2
}

fail_on=${INPUT_FAIL_ON:-deny}
case "$fail_on" in
  deny | warn | never) ;;
  *) error "fail-on must be deny, warn or never, not '$fail_on'" ;;
esac
annotations=${INPUT_ANNOTATIONS:-true}
case "$annotations" in
  true | false) ;;
  *) error "annotations must be true or false, not '$annotations'" ;;
esac
sarif=${INPUT_SARIF_FILE:-podguard.sarif}
config=${INPUT_CONFIG:-}
image=${INPUT_IMAGE:-}
workspace=${GITHUB_WORKSPACE:-$PWD}
cd "$workspace" || error "cannot enter the workspace $workspace"

read -r -d '' -a paths <<<"${INPUT_PATHS:-.}"
[ ${#paths[@]} -gt 0 ] || paths=(.)

# How to run podguard.
if [ -z "$image" ] && ! command -v podguard >/dev/null; then
  [ -n "${GITHUB_ACTION_PATH:-}" ] && [ -f "$GITHUB_ACTION_PATH/Dockerfile" ] \
    || error "no podguard on PATH, no image input, and no action source to build one from"
  image="podguard:action-$(git -C "$GITHUB_ACTION_PATH" rev-parse --short HEAD 2>/dev/null || echo local)"
  echo "::group::Build podguard's image from $GITHUB_ACTION_PATH"
  docker build -t "$image" "$GITHUB_ACTION_PATH" || error "docker build of $GITHUB_ACTION_PATH failed"
  echo "::endgroup::"
fi
if [ -n "$image" ]; then
  # The workspace is mounted at /src, read-only, and podguard runs there as
  # this user, so relative paths (and so SARIF's file names) stay the same.
  for p in "${paths[@]}" ${config:+"$config"}; do
    case "$p" in
      /* | ../* | .. | */../*) error "with an image, paths must be inside the workspace and relative: $p" ;;
    esac
  done
  podguard=(docker run --rm -i --user "$(id -u):$(id -g)" -v "$workspace:/src:ro" -w /src "$image")
else
  podguard=(podguard)
fi
args=(${config:+--config "$config"} "${paths[@]}")

# Findings for people (the log), then SARIF, whose exit status is the step's.
"${podguard[@]}" check --output text --fail-on never "${args[@]}"
mkdir -p "$(dirname "$sarif")" || error "cannot create the folder of $sarif"
"${podguard[@]}" check --output sarif --fail-on "$fail_on" "${args[@]}" >"$sarif"
status=$?
if [ "$status" -gt 2 ] || ! [ -s "$sarif" ]; then
  error "podguard check failed (exit $status) and wrote no SARIF"
fi

findings=unknown
if command -v jq >/dev/null; then
  # Code scanning resolves URIs against the repository root: no leading ./
  if jq '(.. | objects | select(has("artifactLocation")) | .artifactLocation.uri) |= sub("^(\\./)+"; "")' \
      "$sarif" >"$sarif.tmp"; then
    mv "$sarif.tmp" "$sarif"
  else
    rm -f "$sarif.tmp"
    error "podguard wrote SARIF that jq cannot read: $sarif"
  fi
  findings=$(jq '[.runs[].results[]? | select((.suppressions // []) | length == 0)] | length' "$sarif")
  if [ "$annotations" = true ]; then
    # Workflow commands: %, CR and LF escaped in messages, and , : too in properties.
    jq -r '
      def esc: gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
      def prop: esc | gsub(":"; "%3A") | gsub(","; "%2C");
      .runs[].results[]? | select((.suppressions // []) | length == 0)
      | (.locations[0].physicalLocation // {}) as $loc
      | "::\({"error": "error", "warning": "warning"}[.level] // "notice")"
        + " file=\($loc.artifactLocation.uri // "" | prop)"
        + ",line=\($loc.region.startLine // 1),col=\($loc.region.startColumn // 1)"
        + ",title=\("podguard " + .ruleId | prop)::\(.message.text | esc)"' "$sarif"
  fi
elif [ "$annotations" = true ]; then
  echo "podguard action: no jq, so no annotations" >&2
fi

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### podguard check"
    echo
    echo "Paths: \`${paths[*]}\`, fail-on: \`$fail_on\`, findings: $findings, exit status: $status. SARIF: \`$sarif\`."
  } >>"$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "sarif-file=$sarif"
    echo "exit-code=$status"
    echo "findings=$findings"
  } >>"$GITHUB_OUTPUT"
fi
exit "$status"
