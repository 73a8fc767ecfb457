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


def test_a_training_loop_reports_loss_and_lr_on_the_logged_lines(caplog):
    ticks = iter([0.0, 31.0, 40.0])
    progress = LoggedProgress(range(2), desc="XRec epoch 1", interval_s=30.0, clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="xrec_bench"):
        for step in progress:
            progress.report(loss=3.5 - step, lr=1e-3 * (step + 1))
    assert [r.getMessage() for r in caplog.records] == [
        "XRec epoch 1: 1/2 (0.03/s, ETA 0:31, 0:31 so far) loss 3.5000 lr 1.00e-03",
        "XRec epoch 1: 2/2 (0.05/s, 0:40 so far) loss 2.5000 lr 2.00e-03"]


def test_a_terminal_bar_shows_the_reported_values_in_its_postfix():
    from xrec_bench.progress import BarProgress

    bar = BarProgress(range(3), total=3, desc="epoch 1", disable=False)
    for step in bar:
        bar.report(loss=0.25 * step, lr=5e-5)
    assert bar.bar.postfix == "loss=0.5000, lr=5.00e-05"


def test_an_unwatched_loop_accepts_reports_and_is_the_iterable_unchanged():
    from xrec_bench.plugin import RunContext

    for progress in (progress_factory(False), RunContext().progress):
        wrapped = progress([1, 2], total=2)
        wrapped.report(loss=1.0, lr=0.1)
        assert list(wrapped) == [1, 2] and len(wrapped) == 2
