"""Progress a user sees in a log file: stage lines and periodic done/total lines with rate and ETA."""

import logging

from xrec_bench.progress import LoggedProgress, progress_factory

from tests.conftest import run_cli


def test_logged_progress_reports_rate_and_eta_at_intervals_and_at_the_end(caplog):
    ticks = iter([0.0, 10.0, 20.0, 31.0, 40.0, 62.0, 70.0])
    progress = LoggedProgress(range(6), desc="XRec epoch 1", interval_s=30.0, clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="xrec_bench"):
        assert list(progress) == list(range(6))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["XRec epoch 1: 3/6 (0.10/s, ETA 0:31, 0:31 so far)",
                     "XRec epoch 1: 5/6 (0.08/s, ETA 0:12, 1:02 so far)",
                     "XRec epoch 1: 6/6 (0.09/s, 1:10 so far)"]


def test_progress_is_off_when_disabled():
    items = [1, 2]
    assert progress_factory(False)(items, total=2) is items


def test_a_run_with_stderr_in_a_file_logs_its_stages_and_q_silences_them(tmp_path, mirror):
    args = ("run", "--method", "retrieval", "--dataset", "yelp-mini", "--metrics", "usr", "--limit", "20",
            "--output-dir", str(tmp_path))
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    for stage in ("load", "fit", "explain", "score:usr"):
        assert f"stage {stage}: " in done.stderr
    assert "explain (20 records): " in done.stderr  # the logged progress line of the explain loop
    quiet = run_cli("-q", *args, "--overwrite")
    assert quiet.returncode == 0 and "stage " not in quiet.stderr
