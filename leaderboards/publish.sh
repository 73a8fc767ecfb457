#!/bin/bash
# Copy the complete runs under RUNS_DIR into DEST (a results tree of this folder), keeping what a board
# and a re-score need: each run's result.json, config.yaml and samples.jsonl as samples.jsonl.gz
# (gzip -n, so the same run gives the same bytes). Models, predictions/ and scratch stay behind.
#   leaderboards/publish.sh runs/grid leaderboards/grid-cells/results
# A sweep resumes from a published tree copied back: cp -r leaderboards/grid-cells/results/. runs/grid/
set -euo pipefail
if [ $# -ne 2 ] || [ ! -d "$1" ]; then
  echo "usage: leaderboards/publish.sh RUNS_DIR DEST (RUNS_DIR must be a directory of runs)" >&2
  exit 2
fi
src=${1%/}; dest=${2%/}
find "$src" -name result.json -not -path "*/boards/*" -not -path "*/.sweep-jobs/*" | sort | while read -r result; do
  run=$(dirname "$result"); rel=${run#"$src"/}
  python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get('complete') else 1)" "$result" || continue
  mkdir -p "$dest/$rel"
  cp "$run/result.json" "$run/config.yaml" "$dest/$rel/"
  gzip -9nc "$run/samples.jsonl" > "$dest/$rel/samples.jsonl.gz"
  echo "$dest/$rel"
done
