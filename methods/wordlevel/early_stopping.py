"""The official training protocol of the lileipisces baselines: early stopping with a cumulative counter.

After every epoch the validation loss is computed. If it beats the best so far, the state is
snapshotted; otherwise a counter is increased, and training stops once the counter reaches
``endure``. The counter is never reset after an improvement (``endure_count`` in every official
main.py; docs/fidelity.md, "Shared word-level parts"), so
training stops after ``endure`` non-improving epochs *in total*, not in a row. At the end the best
state is loaded back. Pure Python: the caller supplies the epoch, validation and state functions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any


class CumulativeEarlyStopping:
    """The counter alone: ``update(valid_loss)`` says whether the loss improved; ``should_stop`` when done."""

    def __init__(self, endure: int):
        if endure < 1:
            raise ValueError(f"endure must be at least 1, got {endure}")
        self.endure = endure
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.endure_count = 0

    def update(self, epoch: int, valid_loss: float) -> bool:
        """Record one epoch's validation loss; True when it is a new best (strictly lower)."""
        if valid_loss < self.best_loss:
            self.best_loss = valid_loss
            self.best_epoch = epoch
            return True
        self.endure_count += 1  # never reset: the official counter is cumulative
        return False

    @property
    def should_stop(self) -> bool:
        return self.endure_count >= self.endure


def train_with_early_stopping(
    run_epoch: Callable[[int], float],
    validate: Callable[[], float],
    state_dict_fn: Callable[[], Any],
    load_fn: Callable[[Any], None],
    max_epochs: int,
    endure: int = 5,
    on_no_improvement: Callable[[int], None] | None = None,
    progress: Callable[..., Iterable] | None = None,
) -> dict[str, Any]:
    """Train up to ``max_epochs`` epochs with the cumulative early-stopping counter; reload the best state.

    - ``run_epoch(epoch)`` trains one epoch (epochs count from 1) and returns its training loss.
    - ``validate()`` returns the validation criterion (lower is better).
    - ``state_dict_fn()`` returns a *copy* of the state to keep (e.g. cloned tensors); it is called
      on every improvement. ``load_fn(state)`` restores it once training ends.
    - ``on_no_improvement(epoch)`` runs after a non-improving epoch that does not end training
      (PETER decays its learning rate there).
    - ``progress`` wraps the epoch loop (``RunContext.progress``).

    Returns the training report: ``history`` (one dict per epoch: ``epoch``, ``train_loss``,
    ``valid_loss``, ``improved``, ``epoch_seconds``: training plus validation wall time,
    ``epoch_cpu_seconds``: the process's CPU time over the same span, which on a shared machine says
    more than the wall time about how long an idle one would take),
    ``stopped_epoch`` (the best epoch, whose state was reloaded), ``best_valid_loss``,
    ``epochs_run`` and ``stopped_by``: the rule that ended training, ``"endurance"`` (the cumulative
    counter reached ``endure``) or ``"max_epochs"`` (the cap came first).
    """
    stopper = CumulativeEarlyStopping(endure)
    history: list[dict[str, Any]] = []
    best_state = None
    stopped_by = "max_epochs"
    epochs = range(1, max_epochs + 1)
    for epoch in progress(epochs, total=max_epochs, desc="epochs") if progress else epochs:
        started, cpu_started = time.perf_counter(), time.process_time()
        train_loss = float(run_epoch(epoch))
        valid_loss = float(validate())
        improved = stopper.update(epoch, valid_loss)
        history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                        "improved": improved, "epoch_seconds": time.perf_counter() - started,
                        "epoch_cpu_seconds": time.process_time() - cpu_started})
        if improved:
            best_state = state_dict_fn()
        elif stopper.should_stop:
            stopped_by = "endurance"
            break
        elif on_no_improvement is not None:
            on_no_improvement(epoch)
    if best_state is not None:
        load_fn(best_state)
    return {"history": history, "stopped_epoch": stopper.best_epoch, "best_valid_loss": stopper.best_loss,
            "epochs_run": len(history), "stopped_by": stopped_by}
