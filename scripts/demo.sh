#!/usr/bin/env bash
# The main job on its embedded default: plan every example domain on
# every example host and show what vnuma decides.
#   scripts/demo.sh [--format text|json|xml] [HOST-NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
format=text
if [ "${1:-}" = "--format" ]; then format=$2; shift 2; fi

scripts/deps.sh
scripts/build.sh
vnumactl=${BUILDDIR:-build}/cli/vnumactl

hosts=("$@")
if [ ${#hosts[@]} -eq 0 ]; then
  for f in examples/hosts/*.xml; do hosts+=("$(basename "$f" .xml)"); done
fi
for host in "${hosts[@]}"; do
  for domain in examples/domains/*.xml; do
    printf '\n===== host %s · domain %s =====\n' "$host" "$(basename "$domain" .xml)"
    "$vnumactl" plan --caps "examples/hosts/$host.xml" --format "$format" "$domain"
  done
done
