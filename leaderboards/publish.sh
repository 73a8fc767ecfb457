#!/bin/bash
# Copy the cells of each GRID that are complete for the code running now (as `xrec-bench sweep --dry-run`
# lists them) from RUNS_DIR into DEST, keeping what a board and a re-score need: each run's
# result.json, config.yaml and samples.jsonl as samples.jsonl.gz (gzip -n, so the same run gives the
# same bytes; a cell that has only samples.jsonl.gz, as one copied back for a resume, keeps it).
# Stale and missing cells, models, predictions/ and scratch stay behind. Then it writes
# DEST/boards: the cost table of every cell of the grids (those not yet published listed without costs)
# and the boards of the cells published so far (python -m xrec_bench.sweep.report). Grids whose sweeps
# share one output directory are published together, so that the cost table holds all their cells.
#   leaderboards/publish.sh leaderboards/grid.yaml runs/grid leaderboards/grid-cells/results
#   leaderboards/publish.sh leaderboards/ablations-grid.yaml leaderboards/zeroshot-grid.yaml runs/ablations leaderboards/ablation-cells/results
# A sweep resumes from a published tree copied back: cp -r leaderboards/grid-cells/results/. runs/grid/
set -euo pipefail
usage="usage: leaderboards/publish.sh GRID.yaml [GRID.yaml ...] RUNS_DIR DEST (grid files and the directory their sweeps wrote)"
if [ $# -lt 3 ]; then
  echo "$usage" >&2
  exit 2
fi
grids=("${@:1:$#-2}"); src=${*: -2:1}; dest=${*: -1}
src=${src%/}; dest=${dest%/}
for grid in "${grids[@]}"; do
  if [ ! -f "$grid" ]; then echo "$usage; no grid file $grid" >&2; exit 2; fi
done
if [ ! -d "$src" ]; then echo "$usage; no directory $src" >&2; exit 2; fi
# Every grid is read before anything is copied, so a grid that cannot be read leaves DEST as it was.
listing=$(for grid in "${grids[@]}"; do xrec-bench sweep "$grid" --output-dir "$src" --dry-run || exit; done)
awk '$1 == "complete" {print $2 "/" $3 "/" $7}' <<< "$listing" | sort -u |
while read -r rel; do
  mkdir -p "$dest/$rel"
  cp "$src/$rel/result.json" "$src/$rel/config.yaml" "$dest/$rel/"
  # A cell copied back from a published tree (a resumed sweep) has only samples.jsonl.gz: keep it.
  # The gzip goes to a temporary file first, so a failure never leaves a truncated one behind.
  if [ -f "$src/$rel/samples.jsonl" ]; then
    gzip -9nc "$src/$rel/samples.jsonl" > "$dest/$rel/samples.jsonl.gz.tmp"
  else
    cp "$src/$rel/samples.jsonl.gz" "$dest/$rel/samples.jsonl.gz.tmp"
  fi
  mv "$dest/$rel/samples.jsonl.gz.tmp" "$dest/$rel/samples.jsonl.gz"
  echo "$dest/$rel"
done
python3 -m xrec_bench.sweep.report "${grids[@]}" "$dest"
