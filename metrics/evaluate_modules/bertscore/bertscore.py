"""xrec-bench's bertscore metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecBERTScore(evaluate.Metric):
    def _info(self):
        return module_info("bertscore")

    def _compute(self, predictions, references, **settings):
        return compute("bertscore", predictions, references, settings)
