"""xrec-bench's usr metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecUSR(evaluate.Metric):
    def _info(self):
        return module_info("usr")

    def _compute(self, predictions, references, **settings):
        return compute("usr", predictions, references, settings)
