"""xrec-bench's bartscore metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecBARTScore(evaluate.Metric):
    def _info(self):
        return module_info("bartscore")

    def _compute(self, predictions, references, **settings):
        return compute("bartscore", predictions, references, settings)
