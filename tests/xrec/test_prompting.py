"""Prompt formats: the official LLaMA-2 text with its train/test quirk, the chat template, cleaning."""

from __future__ import annotations

from xrec_bench.methods.xrec.prompting import PromptBuilder, system_instruction

from tests.xrec.synthetic import make_records


def test_official_format_and_its_quirk():
    record = make_records(1)[0]
    builder = PromptBuilder("official", "business", True)
    prompt, target = builder.training_pair(record)
    assert prompt == ("<s>[INST] <<SYS>>Explain why the user would enjoy the business within 50 words.<</SYS>>"
                      f"user record: <USER_EMBED> business record: <ITEM_EMBED> business name: {record.title} "
                      f"user profile: {record.user_profile} business profile: {record.item_profile} <EXPLAIN_POS>")
    assert target == f" {record.explanation}[/INST]"  # the explanation sits INSIDE [INST] in training
    assert builder.inference_prompt(record) == prompt + "[/INST]"  # ...but the test prompt closes it first
    assert builder.clean(" The user would love it. [/INST] more") == "The user would love it."


def test_without_profiles_and_item_words():
    record = make_records(1)[0]
    text = PromptBuilder("official", "book", False).inference_prompt(record)
    assert "profile" not in text and "book name:" in text
    assert system_instruction("book") == "Explain why the user would buy with the book within 50 words."


def test_chat_template_puts_the_explanation_in_the_assistant_turn(tiny):
    record = make_records(1)[0]
    builder = PromptBuilder("chat-template", "business", True, tiny.tokenizer)
    prompt, target = builder.training_pair(record)
    assert prompt.endswith("<|im_start|>assistant\n") and "<EXPLAIN_POS>" in prompt
    assert target.startswith(record.explanation) and "<|im_end|>" in target
    assert builder.inference_prompt(record) == prompt
    assert builder.clean("  A nice   place <ITEM_EMBED> [to] go ") == "A nice place [to] go"
    echo = "Explain why the user would enjoy the business within 50 words."
    assert builder.clean(f"{echo}  The user likes  tacos.") == "The user likes tacos."
    assert builder.clean("The user would enjoy the business within 50 words.") == (
        "The user would enjoy the business within 50 words.")  # not a copy of the instruction: kept
    literal = PromptBuilder("chat-template", "business", True, tiny.tokenizer, strip_instruction_echo=False)
    assert literal.clean(f"{echo}  The user likes  tacos.") == f"{echo} The user likes tacos."  # paper profile
