#!/usr/bin/env bash
# The run step of the solguard GitHub action (action.yml): turns the action's inputs into one
# `solguard check` and exits with its status (0 pass, 1 findings at or above fail-on, 2 usage
# or config error).
#
# Inputs, from the environment (the action sets them from its `with:`):
#   INPUT_PATHS         packages or folders, separated by spaces or new lines (required)
#   INPUT_FAIL_ON       error | warning | info | never (default error)
#   INPUT_CONFIG        configuration file, empty for solguard's own lookup
#   INPUT_TARGETS       NAME=VERSION per line
#   INPUT_ENVIRONMENTS  environment snapshot file per line
#   INPUT_SARIF         "true" to write solguard-report.sarif for code scanning
#   REPORT_DIR          where the report files go (default $RUNNER_TEMP/solguard)
#   SOLGUARD            the binary to run (default: solguard on PATH)
#
# Annotations (`::error file=...`) go to standard output with the human summary; JSON,
# Markdown, HTML, JUnit and SARIF land in REPORT_DIR. solguard itself appends the step outputs
# to $GITHUB_OUTPUT and, with --step-summary, the Markdown report to $GITHUB_STEP_SUMMARY.
set -euo pipefail

solguard="${SOLGUARD:-solguard}"
report_dir="${REPORT_DIR:-${RUNNER_TEMP:-/tmp}/solguard}"

# Paths: split on any whitespace, new lines included, without glob expansion.
paths=()
read -r -d '' -a paths <<<"${INPUT_PATHS:-}" || true
if [ "${#paths[@]}" -eq 0 ]; then
  echo "::error title=solguard::the 'paths' input names no package or folder"
  exit 2
fi

args=(check --fail-on "${INPUT_FAIL_ON:-error}")

if [ -n "${INPUT_CONFIG:-}" ]; then
  args+=(--config "$INPUT_CONFIG")
fi

# One value per line; surrounding blanks (and a Windows carriage return) are dropped and blank
# lines skipped.
add_each_line() {
  local option="$1" text="$2" line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [ -n "$line" ]; then
      args+=("$option" "$line")
    fi
  done <<<"$text"
}
add_each_line --target "${INPUT_TARGETS:-}"
add_each_line --environment "${INPUT_ENVIRONMENTS:-}"

# `human` keeps a readable summary in the log next to the annotations.
args+=(--format github --format human --format json --format markdown --format html --format junit)
if [ "${INPUT_SARIF:-false}" = "true" ]; then
  args+=(--format sarif)
fi

mkdir -p "$report_dir"
# Reports of an earlier run in this job must not pass for this one's (a stale SARIF upload).
rm -f "$report_dir"/solguard-report.*

args+=(--report-dir "$report_dir" --step-summary -- "${paths[@]}")

status=0
"$solguard" "${args[@]}" || status=$?
exit "$status"
