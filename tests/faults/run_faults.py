"""Fault injection: SIGKILL `xrec-bench run` at random points of fit and explain, rerun, and check that
the final samples equal an uninterrupted run's, with no sample lost or duplicated.

    python tests/faults/run_faults.py [--kills 12] [--seed 0] [--method retrieval] [--dataset yelp-mini]

Each cycle starts a fresh output directory and kills the run again and again (each kill lands at a
random time inside the window where the reference run was fitting, or, once a model is saved, where
it was explaining) until a rerun completes; then its samples.jsonl must equal the reference's byte for
byte, and its predictions files must hold every test record exactly once, every line whole JSON.
About a minute on 2 cores with the cheap `retrieval` baseline. Exit code 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def command(args: argparse.Namespace, output_dir: Path) -> list[str]:
    return [sys.executable, "-m", "xrec_bench", "run", "--method", args.method, "--dataset", args.dataset,
            "--metrics", "usr,lexical", "--set", f"runtime.explain_chunk={args.chunk}", *args.extra,
            "--output-dir", str(output_dir)]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("XREC_BENCH_MIRROR", str(REPO.parent / "shared" / "xrec-data"))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_dir_of(output_dir: Path) -> Path | None:
    found = sorted(output_dir.glob("*/*/s*-*"))
    return found[0] if found else None


def predictions_state(run_dir: Path | None) -> tuple[int, list[str]]:
    """(distinct sample ids written, problems: duplicates or lines that are not whole JSON, torn tail aside)."""
    if run_dir is None or not (run_dir / "predictions").is_dir():
        return 0, []
    ids: list[str] = []
    problems = []
    for path in sorted((run_dir / "predictions").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines[:-1], 1):  # the text after the last \n may be a torn tail
            try:
                ids.append(json.loads(line)["sample_id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                problems.append(f"{path.name} line {number} is not a whole prediction row")
    duplicates = len(ids) - len(set(ids))
    if duplicates:
        problems.append(f"{duplicates} sample ids written twice")
    return len(set(ids)), problems


def predictions_bytes(output: Path) -> int:
    run_dir = run_dir_of(output)
    return sum(p.stat().st_size for p in (run_dir / "predictions").glob("*.jsonl")) if run_dir else 0


def wait_for_stage(process: subprocess.Popen, output: Path, phase: str, began: float) -> bool:
    """Poll until this process has begun ``phase``: config.yaml rewritten (the data are loaded, fit is
    next) for fit; its first new chunk of predictions on disk for explain. False if it exited first."""
    written = predictions_bytes(output)
    while process.poll() is None:
        run_dir = run_dir_of(output)
        config = run_dir / "config.yaml" if run_dir else None
        if phase == "fit" and config is not None and config.is_file() and config.stat().st_mtime >= began:
            return True
        if phase == "explain" and predictions_bytes(output) > written:
            return True
        time.sleep(0.002)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12, help="at least this many SIGKILLs in all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default="retrieval")
    parser.add_argument("--dataset", default="yelp-mini")
    parser.add_argument("--chunk", type=int, default=2, help="runtime.explain_chunk (small: many appends)")
    parser.add_argument("extra", nargs="*", help="more `xrec-bench run` arguments, after --")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = environment()
    work = Path(tempfile.mkdtemp(prefix="xrec-faults-"))

    # Two uninterrupted runs: the first warms the page cache; the second's timeline (interpreter start,
    # data load, fit, explain) is where the kills aim, as later runs start warm too.
    for name in ("cold", "reference"):
        started = time.time()
        done = subprocess.run(command(args, work / name), check=False, cwd=REPO, env=env, capture_output=True,
                              text=True)
        wall = time.time() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
    reference_dir = run_dir_of(work / "reference")
    reference = (reference_dir / "samples.jsonl").read_bytes()
    if reference != (run_dir_of(work / "cold") / "samples.jsonl").read_bytes():
        print("two uninterrupted runs gave different samples: the method is not deterministic", file=sys.stderr)
        return 1
    n_records = len(reference.split(b"\n")) - 1
    timings = json.loads((reference_dir / "result.json").read_text())["timings_s"]
    # When the saved model appeared, since the process started: fit ended there, and began fit+save earlier.
    fit_s = timings.get("fit", 0.0) + timings.get("save_model", 0.0)
    explain_s = timings.get("explain", 1.0)
    print(f"reference: {n_records} samples in {wall:.1f} s (fit {fit_s:.2f} s, explain {explain_s:.2f} s); "
          f"output under {work}")

    kills = {"fit": 0, "explain": 0, "other": 0}
    failures: list[str] = []
    cycle = 0
    while kills["fit"] + kills["explain"] < args.kills or min(kills["fit"], kills["explain"]) < 3:
        cycle += 1
        if cycle > 4 * args.kills:
            failures.append("too few kills landed; the run finishes before the kill times")
            break
        output = work / f"cycle-{cycle}"
        for attempt in range(1, 30):
            run_dir = run_dir_of(output)
            written, _ = predictions_state(run_dir)
            fitted = run_dir is not None and (run_dir / "model" / "training.json").is_file()
            # Aim at fit (while no model is saved, half the time) or at explain; kill only once the
            # aimed stage has begun, as the run's files show, at a random point of its length.
            phase = "" if written == n_records else ("fit" if not fitted and rng.random() < 0.5 else "explain")
            process = subprocess.Popen(command(args, output), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            began = time.time()
            if phase and wait_for_stage(process, output, phase, began):
                left_s = explain_s * (n_records - written) / n_records
                time.sleep(rng.uniform(0, fit_s if phase == "fit" else left_s))
            if phase and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                after, problems = predictions_state(run_dir_of(output))
                saved = (run_dir_of(output) / "model" / "training.json").is_file()
                # Counted where the files prove it: fit if no model was saved yet, explain if it had
                # written new predictions but not all; anything else (between stages) is "other".
                if phase == "fit" and not saved:
                    landed = "fit"
                elif written < after < n_records:
                    landed = "explain"
                else:
                    landed = "other"
                kills[landed] += 1
                failures += [f"cycle {cycle} kill {attempt}: {p}" for p in problems]
                print(f"cycle {cycle}: SIGKILL {time.time() - began:.2f} s in ({landed}), "
                      f"{after}/{n_records} predictions kept")
                continue
            process.wait()
            stderr = process.stderr.read() if process.stderr else ""
            if process.returncode != 0:
                failures.append(f"cycle {cycle}: a rerun failed with exit code {process.returncode}: {stderr.strip()}")
                break
            run_dir = run_dir_of(output)
            written, problems = predictions_state(run_dir)
            failures += [f"cycle {cycle}: {p}" for p in problems]
            if written != n_records:
                failures.append(f"cycle {cycle}: {written} of {n_records} samples predicted")
            if (run_dir / "samples.jsonl").read_bytes() != reference:
                failures.append(f"cycle {cycle}: samples.jsonl differs from the uninterrupted run's")
            print(f"cycle {cycle}: completed after {attempt - 1} kills; samples equal the reference: "
                  f"{(run_dir / 'samples.jsonl').read_bytes() == reference}")
            break

    total = kills["fit"] + kills["explain"]
    print(f"{total} kills ({kills['fit']} in fit, {kills['explain']} in explain; {kills['other']} more between "
          f"stages) over {cycle} cycles; "
          f"{'all checks hold' if not failures else str(len(failures)) + ' failures'}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
