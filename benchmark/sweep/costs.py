"""What each cell of a sweep cost: fit, explain and score seconds, peak memory and the machine, from the
``timings_s``, ``peak_memory_mb`` and ``environment`` of its result.json; written as Markdown and CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench.files import atomic_write_text
from xrec_bench.results import ResultFileError, RunResult
from xrec_bench.sweep.grid import Cell

COLUMNS = ("dataset", "method", "variant", "seed", "run_id", "state", "fit_s", "explain_s", "score_s",
           "peak_memory_mb", "machine")
HEADERS = ("Dataset", "Method", "Variant", "Seed", "Run id", "State", "Fit s", "Explain s", "Score s",
           "Peak MiB", "Machine")


@dataclass(frozen=True)
class CostRow:
    cell: Cell
    state: str  # what the sweep did with the cell: computed, complete, kept stale, failed, held back
    fit_s: float | None = None  # the fit stage; None where the model was loaded from an earlier run
    explain_s: float | None = None
    score_s: float | None = None  # every score:<family> stage together
    peak_memory_mb: float | None = None  # the highest stage peak (resident memory)
    machine: str = ""

    def values(self) -> tuple[Any, ...]:
        return (self.cell.dataset, self.cell.method, self.cell.variant, self.cell.seed, self.cell.run_id,
                self.state, self.fit_s, self.explain_s, self.score_s, self.peak_memory_mb, self.machine)

    @property
    def total_s(self) -> float | None:
        """Fit, explain and score together; None unless all three were measured."""
        stages = (self.fit_s, self.explain_s, self.score_s)
        return None if any(seconds is None for seconds in stages) else sum(stages)


def machine_of(environment: dict[str, Any]) -> str:
    bf16 = environment.get("cpu_bf16")
    parts = [environment.get("hostname"), environment.get("device"), environment.get("cpu_model"),
             f"bf16: {bf16}" if bf16 else None,
             f"{environment['cpu_count']} CPUs" if environment.get("cpu_count") else None, environment.get("platform")]
    return ", ".join(str(part) for part in parts if part)


def cost_row(cell: Cell, state: str, result_path: Path | None) -> CostRow:
    """A cell's costs from its result.json (blank where there is none, as for a failed cell)."""
    if result_path is None:
        return CostRow(cell, state)
    try:
        result = RunResult.from_disk(result_path)
    except ResultFileError:  # a stale cell kept with an unreadable result: no costs to show
        return CostRow(cell, state)
    timings = result.timings_s
    scores = [seconds for stage, seconds in timings.items() if stage.startswith("score:")]
    peaks = list(result.peak_memory_mb.values())
    return CostRow(cell, state, fit_s=timings.get("fit"), explain_s=timings.get("explain"),
                   score_s=round(sum(scores), 3) if scores else None, peak_memory_mb=max(peaks) if peaks else None,
                   machine=machine_of(result.environment))


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def by_method(rows: list[CostRow]) -> list[str]:
    """Markdown lines: per method, the cells measured in full, their seconds (range, sum) and the highest peak."""
    lines = ["| Method | Cells measured | Seconds per cell | Seconds in all | Highest peak MiB |",
             "| :-- | --: | --: | --: | --: |"]
    for method in dict.fromkeys(row.cell.method for row in rows):
        measured = [row for row in rows if row.cell.method == method and row.total_s is not None]
        totals = [row.total_s for row in measured]
        peaks = [row.peak_memory_mb for row in measured if row.peak_memory_mb is not None]
        spread = f"{min(totals):.0f}–{max(totals):.0f}" if totals else ""
        lines.append(f"| {method} | {len(measured)} of {sum(row.cell.method == method for row in rows)} | {spread} | "
                     f"{sum(totals):.0f} | {_shown(max(peaks)) if peaks else ''} |")
    return lines


def to_markdown(rows: list[CostRow]) -> str:
    measured = [row.total_s for row in rows if row.total_s is not None]
    lines = ["# xrec-bench sweep costs", "",
             ("Per cell, from its result.json: fit, explain and score (all metrics) wall seconds, the peak "
              "resident memory of any stage (the process's maximum resident set, in MiB: 1,048,576 bytes; GPU "
              "memory is not counted), and the machine. Fit is blank where the model was loaded from an earlier "
              "run (as when a sweep resumes a cell whose fit had finished): that row's peak is then the "
              "loading process's, not the fit's. Saving the model is not counted in any column."), "",
             "| " + " | ".join(HEADERS) + " |",
             "| " + " | ".join(":--" if i < 6 or i == 10 else "--:" for i in range(len(HEADERS))) + " |"]
    lines += ["| " + " | ".join(_shown(v).replace("|", "\\|") for v in row.values()) + " |" for row in rows]
    lines += ["", (f"By method (cells with fit, explain and score all measured; {len(measured)} of {len(rows)} cells, "
                   f"{sum(measured) / 3600:.2f} h of stage time in all, without loading data and models):"), ""]
    lines += by_method(rows)
    return "\n".join(lines) + "\n"


def to_csv(rows: list[CostRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(["" if v is None else v for v in row.values()] for row in rows)
    return out.getvalue()


def write_costs(rows: list[CostRow], boards_dir: Path) -> list[Path]:
    paths = [boards_dir / "costs.md", boards_dir / "costs.csv"]
    for path, text in zip(paths, (to_markdown(rows), to_csv(rows))):
        atomic_write_text(path, text)
    return paths
