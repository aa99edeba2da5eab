#!/usr/bin/env bash
# Run `xai audit` for CI and publish where its results are: the script behind the GitHub Action
# (action.yml) and the GitLab template (ci/gitlab-ci.yml). Inputs are environment variables:
#   XAI_CONFIG      the audit config (required)
#   XAI_BASELINE    a baseline report.json or folder of <job>/report.json; skipped when empty or
#                   missing (the first run on main has none yet)
#   XAI_OUT         the output folder (default xai-audit)
#   XAI_EXIT_ZERO   "true": a failed rule does not fail the step (an ERROR still does)
#   XAI_EXTRA_ARGS  more `xai audit` arguments, split on spaces (e.g. "--jobs 2 --resume")
# On GitHub, xai itself appends audit.md to $GITHUB_STEP_SUMMARY; this script writes the step's
# outputs (junit, summary, report-dir, exit-code) to $GITHUB_OUTPUT when that is set. It exits
# with xai's exit code: 0 pass, 1 a rule failed, 2 the audit could not run.
set -u

config="${XAI_CONFIG:?set XAI_CONFIG (the config input) to the audit config file}"
out="${XAI_OUT:-xai-audit}"
args=(audit "$config" --out "$out")
if [ -n "${XAI_BASELINE:-}" ]; then
  if [ -e "$XAI_BASELINE" ]; then
    args+=(--baseline "$XAI_BASELINE")
  else
    echo "xai-audit: no baseline at $XAI_BASELINE yet; the drift rule is skipped" >&2
  fi
fi
if [ "${XAI_EXIT_ZERO:-false}" = "true" ]; then
  args+=(--exit-zero)
fi
if [ -n "${XAI_EXTRA_ARGS:-}" ]; then
  read -r -a extra <<< "$XAI_EXTRA_ARGS"
  args+=("${extra[@]}")
fi

"${XAI_BIN:-xai}" "${args[@]}"
code=$?

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "junit=$out/audit.junit.xml"
    echo "summary=$out/audit.md"
    echo "report-dir=$out"
    echo "exit-code=$code"
  } >> "$GITHUB_OUTPUT"
fi
if [ ! -f "$out/audit.junit.xml" ] && [ "$code" -ne 2 ]; then
  echo "xai-audit: $out/audit.junit.xml was not written" >&2
  exit 2
fi
exit "$code"
