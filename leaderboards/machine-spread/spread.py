"""Seed-to-seed spread against machine-to-machine spread for one cell.

    python spread.py SEED_RUN,SEED_RUN,... MACHINE_A_RUN MACHINE_B_RUN

Each argument is a run directory (result.json plus samples.jsonl or samples.jsonl.gz), read with
xrec-bench's own readers (run it with the project's Python). Prints, per
headline metric, the mean and the standard deviation over the seed runs and the absolute difference
between the two machines' runs, then the share of identical predictions for each pair.
"""

import statistics
import sys
from pathlib import Path

from xrec_bench.results import RunResult
from xrec_bench.sample_files import read_sample_rows, samples_file

METRICS = ("bleu4", "rougeL_f", "bertscore_f1", "usr")


def load(directory: str) -> tuple[RunResult, dict[str, str]]:
    run = Path(directory)
    samples = samples_file(run)
    if samples is None:
        sys.exit(f"{run} has no samples.jsonl or samples.jsonl.gz")
    rows = read_sample_rows(samples)
    return RunResult.from_disk(run), {row["sample_id"]: row["prediction"] for row in rows}


def identical_share(first: dict[str, str], second: dict[str, str]) -> float:
    return sum(first[key] == second.get(key) for key in first) / len(first)


def main(seed_runs: str, machine_a: str, machine_b: str) -> None:
    seeds = [load(directory) for directory in seed_runs.split(",")]
    (result_a, predictions_a), (result_b, predictions_b) = load(machine_a), load(machine_b)
    print(f"{'metric':14s}{'seed mean':>12s}{'seed std':>12s}{'|A - B|':>12s}")
    for name in METRICS:
        values = [result.metrics[name]["value"] for result, _ in seeds]
        machines = abs(result_a.metrics[name]["value"] - result_b.metrics[name]["value"])
        print(f"{name:14s}{statistics.mean(values):12.4f}{statistics.stdev(values):12.4f}{machines:12.4f}")
    pairs = [identical_share(seeds[i][1], seeds[j][1]) for i in range(len(seeds)) for j in range(i + 1, len(seeds))]
    print(f"identical predictions: machines {identical_share(predictions_a, predictions_b):.3f}; "
          f"seed pairs {', '.join(f'{share:.3f}' for share in pairs)}")
    print("code trees:", result_a.environment.get("code_tree"), result_b.environment.get("code_tree"))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
