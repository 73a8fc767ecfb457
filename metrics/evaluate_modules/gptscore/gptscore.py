"""xrec-bench's gptscore metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecGPTScore(evaluate.Metric):
    def _info(self):
        return module_info("gptscore")

    def _compute(self, predictions, references, **settings):
        return compute("gptscore", predictions, references, settings)
