"""The official cumulative early-stopping counter (never reset), pinned on hand-written loss curves."""

import pytest
from xrec_bench.methods.wordlevel.early_stopping import CumulativeEarlyStopping, train_with_early_stopping


def run_curve(valid_losses, max_epochs=100, endure=5):
    """Drive the loop with a scripted validation curve; the 'state' is the epoch it was taken at."""
    state = {"epoch": 0}
    decays = []
    curve = iter(valid_losses)

    def run_epoch(epoch):
        state["epoch"] = epoch
        return 10.0 - epoch

    report = train_with_early_stopping(
        run_epoch, lambda: next(curve), lambda: dict(state), lambda saved: state.update(saved),
        max_epochs=max_epochs, endure=endure, on_no_improvement=decays.append)
    return report, state, decays


def test_counter_is_cumulative_not_consecutive():
    # Non-improving epochs: 3, 5, 7, 9, 10 -> never 5 in a row, but 5 in total, so it stops at 10.
    losses = [5.0, 4.0, 4.5, 3.0, 3.5, 2.0, 2.5, 1.0, 1.5, 1.2, 0.5]
    report, state, decays = run_curve(losses)
    assert report["epochs_run"] == 10
    assert report["stopped_by"] == "endurance"
    assert report["stopped_epoch"] == 8
    assert report["best_valid_loss"] == 1.0
    assert state["epoch"] == 8  # the best state was loaded back
    # The decay hook fires on non-improving epochs that do not end training.
    assert decays == [3, 5, 7, 9]


def test_equal_loss_is_not_an_improvement_and_history_is_complete():
    report, _, _ = run_curve([2.0, 2.0, 2.0], max_epochs=3, endure=5)
    assert [h["improved"] for h in report["history"]] == [True, False, False]
    assert report["stopped_by"] == "max_epochs"
    assert [h["train_loss"] for h in report["history"]] == [9.0, 8.0, 7.0]
    assert all(h["epoch_seconds"] >= 0 and h["epoch_cpu_seconds"] >= 0 for h in report["history"])


def test_counter_alone():
    stopper = CumulativeEarlyStopping(endure=2)
    assert stopper.update(1, 3.0) and not stopper.should_stop
    assert not stopper.update(2, 3.1)
    assert stopper.update(3, 2.0) and not stopper.should_stop
    assert not stopper.update(4, 2.5) and stopper.should_stop
    with pytest.raises(ValueError):
        CumulativeEarlyStopping(endure=0)
