"""Every xrec-bench metric as a Hugging Face ``evaluate`` module, loadable offline from its folder.

``evaluate.load("<this folder>/<metric>")`` (``metric_module_path("gptscore")`` gives the folder)
returns a module whose ``compute(predictions=..., references=..., **settings)`` runs the registered
metric with its ``profile`` config (``cpu`` by default) updated by ``settings``, and returns each
value with its std, per-sample scores and recorded config. The same numbers as ``xrec-bench score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent


def metric_module_path(family: str) -> str:
    """The folder that ``evaluate.load`` takes for a metric family."""
    return str(FOLDER / family)


def module_info(family: str):
    """The ``evaluate.MetricInfo`` of a metric family: string predictions and references."""
    import datasets
    import evaluate
    from xrec_bench.registry import metrics

    cls = metrics.get(family)
    return evaluate.MetricInfo(
        description=f"xrec-bench {family}: {cls.summary}",
        citation="",
        inputs_description="predictions: list of str; references: list of str, aligned. Settings: profile "
                           "('cpu' or 'paper'), device, cache_dir, and any key of the metric's config.",
        features=datasets.Features({"predictions": datasets.Value("string"),
                                    "references": datasets.Value("string")}),
        module_type="metric",
    )


def compute(family: str, predictions: list[str], references: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """Score with the registered metric; raises MetricUnavailable (with the reason) where it cannot run."""
    from xrec_bench.config import merge, plugin_layer
    from xrec_bench.models import cache_root
    from xrec_bench.plugin import RunContext
    from xrec_bench.registry import metrics

    settings = dict(settings)
    cls = metrics.get(family)
    ctx = RunContext(device=settings.pop("device", "cpu"), seed=int(settings.pop("seed", 0)),
                     cache_dir=Path(settings.pop("cache_dir", cache_root())))
    config = merge(plugin_layer(cls, settings.pop("profile", "cpu")), settings)
    output: dict[str, Any] = {}
    for name, result in cls(config).score(list(predictions), list(references), ctx).items():
        output[name] = result.value
        output[f"{name}_std"] = result.std
        if result.per_sample is not None:
            output[f"{name}_scores"] = result.per_sample
        output[f"{name}_config"] = result.config
    return output
