"""A judge that is a local transformers chat model: batched, length-sorted generation, greedy or seeded sampling.

Sampling draws one seed per batch (the seed of the batch's first request), so replies are
reproducible for the same inputs and batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xrec_bench.errors import MetricUnavailable
from xrec_bench.loaded_scorers import load_once


def load_chat_model(path: str, device: str):
    """Tokenizer (left padding, a pad token) and eval-mode causal LM, loaded once per process."""

    def load() -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()

    return load_once("gptscore-hf-judge", (path, device), load)


class LocalHFJudge:
    def __init__(self, config: dict[str, Any], *, device: str = "cpu"):
        from xrec_bench.models import ModelNotAvailable, locate

        self.name = config.get("model")
        if not self.name:
            raise MetricUnavailable("The hf GPTScore judge needs metrics.gptscore.model (a local model "
                                    "directory, an offline model name or a hub id).")
        self.temperature = float(config["temperature"])
        self.max_tokens = int(config["max_tokens"])
        self.batch_size = max(1, int(config["batch_size"]))
        self.device = device
        self.retries = 0
        try:
            path = locate(self.name)
        except ModelNotAvailable as exc:
            raise MetricUnavailable(str(exc)) from None
        self.tokenizer, self.model = load_chat_model(path, device)
        if not getattr(self.tokenizer, "chat_template", None):
            raise MetricUnavailable(f"The GPTScore judge {self.name!r} has no chat template; use an "
                                    f"instruction-tuned chat model.")

    def identity(self) -> dict[str, Any]:
        return {"judge": "hf", "model": self.name, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "batch_size": self.batch_size}

    def complete(self, conversations: list[list[dict[str, str]]], seeds: list[int],
                 on_reply: Callable[[int, str], None]) -> None:
        import torch

        prompts = [self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                   for messages in conversations]
        lengths = [len(self.tokenizer(prompt, add_special_tokens=False).input_ids) for prompt in prompts]
        order = sorted(range(len(prompts)), key=lambda position: lengths[position])
        sampling = self.temperature > 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            encoded = self.tokenizer([prompts[p] for p in batch], return_tensors="pt", padding=True,
                                     add_special_tokens=False).to(self.device)
            options: dict[str, Any] = {"do_sample": sampling, "max_new_tokens": self.max_tokens,
                                       "pad_token_id": self.tokenizer.pad_token_id}
            if sampling:
                torch.manual_seed(seeds[batch[0]])
                options["temperature"] = self.temperature
            else:
                options.update(temperature=None, top_p=None, top_k=None)
            with torch.no_grad():
                generated = self.model.generate(**encoded, **options)
            new_tokens = generated[:, encoded["input_ids"].shape[1]:]
            for position, text in zip(batch, self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                on_reply(position, text)
