"""GPTScore judge backends: an OpenAI-compatible chat endpoint (``openai``) or a local transformers model (``hf``).

A backend has ``identity()`` (everything that shapes its replies, recorded in the result config and
hashed into the cache key; never a secret), ``retries`` (transport retries so far) and
``complete(conversations, seeds, on_reply)``, which calls ``on_reply(position, text)`` once per
conversation as replies arrive. Backends are imported only when a judge is built.
"""

from __future__ import annotations

from typing import Any

from xrec_bench.errors import UserError

BACKENDS = ("openai", "hf")


def build_judge(config: dict[str, Any], ctx):
    """The judge backend that ``config["judge"]`` names, built from the GPTScore config."""
    name = config.get("judge")
    if name == "openai":
        from xrec_bench.metrics.judges.openai_chat import OpenAIChatJudge

        return OpenAIChatJudge(config)
    if name == "hf":
        from xrec_bench.metrics.judges.hf_local import LocalHFJudge

        return LocalHFJudge(config, device=ctx.device)
    raise UserError(f"Unknown GPTScore judge {name!r}; set metrics.gptscore.judge to one of: {', '.join(BACKENDS)}.")
