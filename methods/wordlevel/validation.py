"""The validation criterion of the lileipisces baselines (Att2Seq, NRT, PETER, PEPLER), and an alternative.

Config key ``valid_criterion`` (docs/fidelity.md, section "Shared word-level parts"):

- ``official-batch-weighted``: what every official ``evaluate()`` returns. Each batch gives the
  mean NLL over its non-pad target tokens; those means are averaged weighted by the number of
  records in the batch: ``Σ_b B_b · mean_b / Σ_b B_b`` (``total_loss += batch_size * loss.item()``
  ... ``total_loss / total_sample``). Its value depends on how the split is cut into batches.
- ``token-weighted``: the mean NLL over every non-pad target token of the split,
  ``Σ_b T_b · mean_b / Σ_b T_b``; the same for any batch size or order (its exp is the perplexity).

Pure Python: the callers pass each batch's mean loss, record count and target-token count. The methods
declare CRITERIA in their ``choices``, so config.resolve refuses any other criterion.
"""

from __future__ import annotations

CRITERIA = ("official-batch-weighted", "token-weighted")


class ValidationMean:
    """Accumulates per-batch token-mean losses into the chosen criterion."""

    def __init__(self, criterion: str):
        self.criterion = criterion
        self.total = 0.0
        self.weight = 0

    def add(self, batch_mean: float, records: int, tokens: int) -> None:
        """One batch: its token-mean loss, how many records it holds, how many non-pad targets."""
        weight = records if self.criterion == "official-batch-weighted" else tokens
        self.total += float(batch_mean) * weight
        self.weight += int(weight)

    @property
    def value(self) -> float:
        return self.total / max(self.weight, 1)
