"""How a sweep runs its cells: ``inline`` (one after another in this process), or one submitit job per
cell on this machine (``local``, submitit's LocalExecutor) or on a Slurm cluster (``slurm``).

Every cell goes through ``xrec_bench.runner.run``, the path of ``xrec-bench run``. A cell that fails is
reported with its error and the sweep goes on with the others. A DDP cell is still launched with
``accelerate launch`` / ``torchrun`` around ``xrec-bench run``, not through a sweep.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.sweep.grid import Cell

EXECUTORS = ("inline", "local", "slurm")
JOBS_FOLDER = ".sweep-jobs"  # submitit's pickles and logs; a dot folder, which the leaderboard never reads
# What LocalExecutor.update_parameters reads (it ignores anything else, so other keys are refused here).
LOCAL_PARAMETERS = ("timeout_min", "gpus_per_node", "visible_gpus", "tasks_per_node", "nodes", "signal_delay_s",
                    "setup", "stderr_to_stdout")
LOCAL_DEFAULTS = {"timeout_min": 7 * 24 * 60}  # submitit's own default (2 minutes) would kill any real cell
SET_BY_SWEEP = {"array_parallelism": "--max-parallel"}


@dataclass(frozen=True)
class CellJob:
    """A cell to run; ``overwrite`` discards a stale earlier result first (as ``run --overwrite``)."""

    cell: Cell
    overwrite: bool


@dataclass(frozen=True)
class CellOutcome:
    cell: Cell
    result_path: Path | None  # result.json, where the run completed
    error: str | None  # one line, where it failed
    log_path: Path | None = None  # the job's stderr, for a submitted cell


def check_parameters(path: Path, section: str, parameters: dict[str, Any]) -> None:
    """The grid's ``local`` / ``slurm`` section may hold only what that submitit executor takes."""
    if section == "local":
        known = set(LOCAL_PARAMETERS)
    else:
        import submitit

        known = set(submitit.SlurmExecutor._valid_parameters())
    for key in parameters:
        if key in SET_BY_SWEEP:
            raise UserError(f"Grid file {path}: {section}.{key} is set with {SET_BY_SWEEP[key]}; drop it there.")
        if key not in known:
            raise UserError(f"Grid file {path}: {section} has unknown submitit parameter {key}; the known ones "
                            f"are {', '.join(sorted(known - set(SET_BY_SWEEP)))}.")


def run_cell(config: dict[str, Any], output_dir: str, overwrite: bool) -> str:
    """Run one cell exactly as ``xrec-bench run`` does; return its result.json path (the submitted job).

    First, holding the run's lock, it discards what a stale or restarted cell left (``overwrite``) and
    records which code starts or resumes the run (``status.record_start``), so that a later sweep
    resumes a run stopped part-way only with the code that started it."""
    from xrec_bench.devices import process_device, require_device
    from xrec_bench.run_directory import RunDirectory
    from xrec_bench.runner import run
    from xrec_bench.sweep.status import record_start

    logger = logging.getLogger("xrec_bench")
    if not logger.handlers:  # a submitted job: its stderr is the job's log file
        logger.addHandler(logging.StreamHandler(sys.stderr))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    config = {**config, "runtime": {**config["runtime"], "device": process_device(config["runtime"]["device"])}}
    require_device(config["runtime"]["device"])  # as `xrec-bench run` does (not part of the run id)
    run_dir = RunDirectory.of(Path(output_dir), config, str(config["method"]["name"]))
    with run_dir.lock():  # one process per run: a second sweep of the cell fails here, touching nothing
        if overwrite:
            run_dir.discard()  # gone before the marker names the code now, even if the run fails early
        record_start(config, Path(output_dir), fresh=overwrite)
    return str(run(config, Path(output_dir), overwrite=overwrite, log=lambda line: print(line, file=sys.stderr)))


def run_inline(jobs: Sequence[CellJob], output_dir: Path, log: Callable[[str], None]) -> list[CellOutcome]:
    """One cell after another in this process. torch's thread count is restored after each cell, so a
    cell with ``runtime.threads`` unset runs at this process's own count whatever the cell before set;
    the memory allocator policy (``runtime.allocator``) is the process's and stays as the last cell set it."""
    import torch

    outcomes = []
    threads = torch.get_num_threads()
    for number, job in enumerate(jobs, 1):
        log(f"[{number}/{len(jobs)}] {job.cell.label}: running{' again from scratch' if job.overwrite else ''}")
        try:
            path = run_cell(job.cell.config, str(output_dir), job.overwrite)
        except UserError as exc:
            outcomes.append(CellOutcome(job.cell, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one broken cell must not stop the rest of the sweep
            log(traceback.format_exc().rstrip())
            outcomes.append(CellOutcome(job.cell, None, f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(CellOutcome(job.cell, Path(path), None))
        finally:
            torch.set_num_threads(threads)
        if outcomes[-1].error:
            log(f"[{number}/{len(jobs)}] {job.cell.label}: failed: {outcomes[-1].error}")
    return outcomes


def _make_executor(kind: str, folder: Path, parameters: dict[str, Any], max_parallel: int):
    import submitit

    if kind == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(**{**LOCAL_DEFAULTS, **parameters})
        return executor
    executor = submitit.SlurmExecutor(folder=folder)
    executor.update_parameters(**{"job_name": "xrec-bench", **parameters, "array_parallelism": max_parallel})
    return executor


def _last_line(error: BaseException) -> str:
    """The job's own exception line from submitit's error text (the line before its closing rule)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    rule = max((i for i, line in enumerate(lines) if set(line) == {"-"}), default=None)
    found = lines[rule - 1] if rule is not None and rule > 0 else (lines[-1] if lines else type(error).__name__)
    return found.removeprefix("xrec_bench.errors.UserError: ")


def _killed(error: BaseException, log_path: Path) -> str:
    """A job that ended without a result (killed: out of memory, a time limit, a signal): submitit's first
    line, which names the job's state, and the last line of its log."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # submitit: "Job <id> (task: <n>) with path <pickle>" / "has not produced any output (state: <STATE>)"
    head = lines[:2] if len(lines) > 1 and lines[1].startswith("has not produced") else lines[:1]
    first = " ".join(head) or type(error).__name__
    try:
        tail = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()]
    except OSError:
        tail = []
    return first + (f"; the last line of its log: {tail[-1]}" if tail else "")


def _outcome(job: CellJob, submitted) -> CellOutcome:
    import submitit

    error = submitted.exception()
    log_path = Path(submitted.paths.stderr)
    # A job that raised is a FailedJobError, a subclass: only a job that ended without any result is "killed".
    if type(error) is submitit.core.utils.UncompletedJobError:
        return CellOutcome(job.cell, None, _killed(error, log_path), log_path)
    if error is not None:
        return CellOutcome(job.cell, None, _last_line(error), log_path)
    return CellOutcome(job.cell, Path(submitted.result()), None, log_path)


def run_submitted(jobs: Sequence[CellJob], output_dir: Path, kind: str, parameters: dict[str, Any],
                  max_parallel: int, log: Callable[[str], None], poll_s: float = 1.0) -> list[CellOutcome]:
    """One submitit job per cell; at most ``max_parallel`` run at once.

    On Slurm the cells go as one job array whose ``%max_parallel`` throttle Slurm keeps; locally they
    are submitted as earlier ones finish. This process waits for every job (Ctrl-C, SIGTERM or SIGHUP,
    or an error in the wait itself, cancels local jobs, which ignore SIGTERM themselves and would
    otherwise outlive it; Slurm jobs keep running and a later sweep picks up their results).
    """
    folder = Path(output_dir) / JOBS_FOLDER / "%j"
    executor = _make_executor(kind, folder, parameters, max_parallel)
    waiting = list(jobs)
    running: list[tuple[CellJob, Any]] = []
    outcomes: dict[Cell, CellOutcome] = {}

    def submit(batch: list[CellJob]) -> None:
        if kind == "slurm":
            with executor.batch():
                handles = [executor.submit(run_cell, job.cell.config, str(output_dir), job.overwrite)
                           for job in batch]
            for job, handle in zip(batch, handles):
                running.append((job, handle))
                log(f"{job.cell.label}: submitted as {kind} job {handle.job_id} (log {handle.paths.stderr})")
            return
        for job in batch:  # each job joins `running` as soon as it exists, so a failure later cancels it
            handle = executor.submit(run_cell, job.cell.config, str(output_dir), job.overwrite)
            running.append((job, handle))
            log(f"{job.cell.label}: submitted as {kind} job {handle.job_id} (log {handle.paths.stderr})")

    with _stop_on_signals() if kind == "local" else contextlib.nullcontext():
        try:
            if kind == "slurm":
                submit(waiting)
                waiting = []
            while waiting or running:
                free = max_parallel - len(running)
                if waiting and free > 0:
                    submit(waiting[:free])
                    waiting = waiting[free:]
                time.sleep(poll_s)
                for job, handle in [entry for entry in running if entry[1].done()]:
                    running.remove((job, handle))
                    outcomes[job.cell] = outcome = _outcome(job, handle)
                    log(f"{job.cell.label}: {'failed: ' + outcome.error if outcome.error else 'done'}")
        except BaseException:  # Ctrl-C, a signal, or a failure of the wait itself (e.g. a submission)
            if kind == "local":
                for _, handle in running:
                    handle.cancel()
            raise
    return [outcomes[job.cell] for job in jobs]


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM and SIGHUP end the wait as Ctrl-C does (in the main thread; elsewhere they are left alone).

    SIGINT gets the same handler: a sweep started in the background of a script inherits SIGINT
    ignored, and so would its jobs, and cancelling a local job is a SIGINT to it. A handled signal is
    reset to its default in a job the sweep starts, so the jobs can be cancelled.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_jobs(jobs: Sequence[CellJob], output_dir: Path, *, executor: str, parameters: dict[str, Any],
             max_parallel: int, log: Callable[[str], None]) -> list[CellOutcome]:
    if not jobs:
        return []
    if executor == "inline":
        return run_inline(jobs, output_dir, log)
    return run_submitted(jobs, output_dir, executor, parameters, max_parallel, log,
                         poll_s=1.0 if executor == "local" else 30.0)
