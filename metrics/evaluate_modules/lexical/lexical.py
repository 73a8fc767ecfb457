"""xrec-bench's lexical metric as a Hugging Face evaluate module: `evaluate.load("<this folder>")`."""

import evaluate
from xrec_bench.metrics.evaluate_modules import compute, module_info


class XrecLexical(evaluate.Metric):
    def _info(self):
        return module_info("lexical")

    def _compute(self, predictions, references, **settings):
        return compute("lexical", predictions, references, settings)
