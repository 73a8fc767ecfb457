"""XRec prompts in two formats, and the cleaning of generated text.

``official`` reproduces the LLaMA-2 chat text of the released code, including its quirk: in
training the reference explanation sits after ``<EXPLAIN_POS>`` INSIDE ``[INST] ... [/INST]``
(``<EXPLAIN_POS> {explanation}[/INST]``, no space before ``[/INST]`` and no ``</s>``), while at
test time the prompt ends with ``<EXPLAIN_POS>[/INST]`` and the output is cut at the first ``[``.
The released code also tokenises its ``<s>``-prefixed text with the tokenizer's own BOS, so
LLaMA-2 sees two BOS tokens: ``add_bos`` reproduces that (paper profile). ``chat-template`` uses the backbone tokenizer's own chat template, with the
explanation as the assistant turn (for backbones that are not LLaMA-2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xrec_bench.records import Record

USER_TOKEN, ITEM_TOKEN, EXPLAIN_TOKEN = "<USER_EMBED>", "<ITEM_EMBED>", "<EXPLAIN_POS>"
SPECIAL_TOKENS = (USER_TOKEN, ITEM_TOKEN, EXPLAIN_TOKEN)
FORMATS = ("official", "chat-template")


def system_instruction(word: str) -> str:
    verb = "buy with" if word == "book" else "enjoy"
    return f"Explain why the user would {verb} the {word} within 50 words."


def user_message(record: Record, word: str, with_profiles: bool = True) -> str:
    text = f"user record: {USER_TOKEN} {word} record: {ITEM_TOKEN} {word} name: {record.title}"
    if with_profiles:
        text += f" user profile: {record.user_profile} {word} profile: {record.item_profile}"
    return f"{text} {EXPLAIN_TOKEN}"


@dataclass(frozen=True)
class PromptBuilder:
    """Turns a record into (prompt, target) strings; the loss covers the target only."""

    fmt: str
    word: str
    with_profiles: bool
    tokenizer: object = None  # needed by chat-template and by prompt_ids
    add_bos: bool = False  # let the tokenizer add its BOS too (the released code does, before its own <s>)
    strip_instruction_echo: bool = True  # drop a leading copy of the system instruction (not in XRec's code)

    def prompt_ids(self, text: str) -> list[int]:
        """Token ids of a prompt or a whole training text, as the run's tokenisation rule makes them."""
        return self.tokenizer(text, add_special_tokens=self.add_bos)["input_ids"]

    def official_prefix(self, record: Record) -> str:
        message = user_message(record, self.word, self.with_profiles)
        return f"<s>[INST] <<SYS>>{system_instruction(self.word)}<</SYS>>{message}"

    def _chat(self, record: Record, explanation: str | None) -> str:
        messages = [{"role": "system", "content": system_instruction(self.word)},
                    {"role": "user", "content": user_message(record, self.word, self.with_profiles)}]
        if explanation is None:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        messages.append({"role": "assistant", "content": explanation})
        return self.tokenizer.apply_chat_template(messages, tokenize=False)

    def training_pair(self, record: Record) -> tuple[str, str]:
        """(prompt, target) for teacher forcing; prompt + target is the whole training text."""
        if record.explanation is None:
            raise ValueError(f"record {record.sample_id} has no reference explanation to train on")
        if self.fmt == "official":
            return self.official_prefix(record), f" {record.explanation}[/INST]"
        prompt = self._chat(record, None)
        full = self._chat(record, record.explanation)
        if not full.startswith(prompt):
            raise ValueError("the chat template's generation prompt is not a prefix of the full conversation")
        return prompt, full[len(prompt):]

    def inference_prompt(self, record: Record) -> str:
        if self.fmt == "official":
            return f"{self.official_prefix(record)}[/INST]"
        return self._chat(record, None)

    def clean(self, generated: str) -> str:
        """Generated text → one explanation: special tokens (and, with ``strip_instruction_echo``, a leading
        copy of the system instruction) removed, official output cut at the first '[' as XRec's
        ``explainer/main.py`` does, whitespace collapsed."""
        text = generated
        for token in SPECIAL_TOKENS:
            text = text.replace(token, " ")
        if self.fmt == "official":
            text = text.split("[", 1)[0]
        text = re.sub(r"\s+", " ", text).strip()
        instruction = system_instruction(self.word)
        if self.strip_instruction_echo and text.lower().startswith(instruction.lower()):
            text = text[len(instruction):].strip()
        return text
