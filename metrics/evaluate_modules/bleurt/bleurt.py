"""xrec-bench's bleurt metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecBLEURT(evaluate.Metric):
    def _info(self):
        return module_info("bleurt")

    def _compute(self, predictions, references, **settings):
        return compute("bleurt", predictions, references, settings)
