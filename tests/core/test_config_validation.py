"""Config overrides are checked before anything runs: unknown keys, bad values, and run ids that do not
depend on how a number was typed."""

from pathlib import Path

import pytest
from xrec_bench import config as run_config
from xrec_bench.errors import UserError

from tests.conftest import REPO, run_cli


def resolve(method="retrieval", **kwargs):
    return run_config.resolve(method=method, dataset="yelp-mini", metric_names=["usr"], **kwargs)


@pytest.mark.parametrize("assignment, suggestion", [
    ("method.same_user_weigth=2", "method.same_user_weight"),
    ("limt=5", "limit"),
    ("runtime.explain_chnk=8", "runtime.explain_chunk"),
    ("metrics.bootstrap_resample=10", "metrics.bootstrap_resamples"),
    ("metrics.usr.anything=1", None),
])
def test_an_unknown_set_key_is_refused_with_a_suggestion(assignment, suggestion):
    with pytest.raises(UserError) as raised:
        resolve(assignments=[assignment])
    message = str(raised.value)
    assert assignment.split("=")[0] in message and "\n" not in message
    if suggestion:
        assert f"did you mean {suggestion}?" in message


def test_unknown_keys_are_found_at_every_level_of_a_nested_method_config(tmp_path):
    with pytest.raises(UserError, match="did you mean method.training.lr?"):
        resolve(method="xrec", assignments=["method.training.lrr=1e-3"])
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  generation:\n    max_new_tokns: 4\n", encoding="utf-8")
    with pytest.raises(UserError, match="method.generation.max_new_tokens"):
        resolve(method="xrec", user_file=path)
    profile_only = resolve(method="xrec", assignments=["method.training.warmup_steps=3"])
    assert profile_only["method"]["training"]["warmup_steps"] == 3


@pytest.mark.parametrize("kwargs, words", [
    ({"limit": -5}, "limit"), ({"limit": 0}, "limit"), ({"assignments": ["limit=2.5"]}, "limit"),
    ({"assignments": ["runtime.explain_chunk=0"]}, "runtime.explain_chunk"),
    ({"assignments": ["runtime.explain_chunk=-1"]}, "runtime.explain_chunk"),
    ({"assignments": ["runtime.threads=abc"]}, "runtime.threads"),
    ({"assignments": ["method.name=published"]}, "--method"),
])
def test_bad_values_are_one_sentence(kwargs, words):
    with pytest.raises(UserError, match=words.replace(".", r"\.")) as raised:
        resolve(**kwargs)
    assert "\n" not in str(raised.value)


def test_a_negative_limit_exits_2_before_writing_anything(tmp_path):
    done = run_cli("run", "--method", "retrieval", "--dataset", "yelp-mini", "--limit", "-5",
                   "--output-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "runs").exists()


def test_an_int_for_a_float_setting_gives_the_same_run_id():
    as_int = resolve(assignments=["method.same_user_weight=2"])
    as_float = resolve(assignments=["method.same_user_weight=2.0"])
    assert as_int["method"]["same_user_weight"] == 2.0 and isinstance(as_int["method"]["same_user_weight"], float)
    assert run_config.run_id(as_int) == run_config.run_id(as_float)
    assert run_config.run_id(resolve(limit=5)) == run_config.run_id(resolve(assignments=["limit=5.0"]))


def test_committed_results_keep_their_run_ids():
    configs = sorted((REPO / "leaderboards").rglob("config.yaml"))
    assert configs
    for path in configs:
        config = run_config.load_yaml(Path(path).read_text(encoding="utf-8"))
        assert run_config.run_id(config) == path.parent.name, path


def registered_plugins():
    from xrec_bench.registry import methods, metrics

    return [pytest.param(entry.obj, id=f"{kind}:{entry.name}")
            for kind, registry in (("method", methods), ("metric", metrics)) for entry in registry.entries()]


def setting(config, dotted):
    for part in dotted.split("."):
        assert isinstance(config, dict) and part in config, f"{dotted} is not a setting"
        config = config[part]
    return config


@pytest.mark.parametrize("plugin", registered_plugins())
def test_every_declared_choice_is_a_setting_whose_defaults_are_allowed_in_every_profile(plugin):
    for dotted, allowed in plugin.choices.items():
        assert isinstance(allowed, tuple) and allowed, f"{dotted}: choices are a non-empty tuple"
        setting(plugin.defaults, dotted)
        for profile in run_config.PROFILES:
            value = setting(run_config.plugin_layer(plugin, profile), dotted)
            assert value in allowed, f"{plugin.__name__} {profile} profile: {dotted}={value!r} not in {allowed}"


def test_both_per_hardware_precisions_are_choices():
    """The cpu profiles pick bf16 or fp32 by cpu_has_native_bf16(): either outcome must resolve."""
    from xrec_bench.registry import methods

    assert {"fp32", "bf16-weights"} <= set(methods.get("xrec").choices["precision"])
    for name in ("att2seq", "nrt", "peter", "pepler"):
        assert {"fp32", "bf16-autocast"} <= set(methods.get(name).choices["precision"])


@pytest.mark.parametrize("method, metric_names, assignment, sentence", [
    ("xrec", ["usr"], "method.precision=fp16",
     "method.precision must be one of fp32, bf16-autocast, bf16-weights, not 'fp16'"),
    ("xrec", ["usr"], "method.lightgcn.negatives=sometimes",
     "method.lightgcn.negatives must be one of fixed, per-batch, not 'sometimes'"),
    ("xrec", ["usr"], "method.training.loss_start=prompt",
     "method.training.loss_start must be one of explain-token, target, not 'prompt'"),
    ("att2seq", ["usr"], "method.precision=bf16-weights",
     "method.precision must be one of fp32, bf16-autocast, not 'bf16-weights'"),
    ("peter", ["usr"], "method.layer_init=shared",
     "method.layer_init must be one of official-copies, independent, not 'shared'"),
    ("nrt", ["usr"], "method.length=long", "method.length must be one of official, xrec, not 'long'"),
    ("retrieval", ["bertscore"], "metrics.bertscore.precision=fp16",
     "metrics.bertscore.precision must be one of fp32, bf16, not 'fp16'"),
    # A family that is not scored has its --set keys checked all the same.
    ("retrieval", ["usr"], "metrics.bertscore.precision=fp16",
     "metrics.bertscore.precision must be one of fp32, bf16, not 'fp16'"),
    ("retrieval", ["usr"], "metrics.gptscore.judge=claude",
     "metrics.gptscore.judge must be one of null, openai, hf, not 'claude'"),
])
def test_a_value_outside_a_declared_choice_is_one_sentence_naming_the_full_key(method, metric_names, assignment,
                                                                              sentence):
    with pytest.raises(UserError) as raised:
        run_config.resolve(method=method, dataset="yelp-mini", metric_names=metric_names, assignments=[assignment])
    assert str(raised.value) == f"{sentence}; fix it with --set {assignment.split('=')[0]}=..."


def test_a_bad_choice_exits_2_from_the_cli_in_one_sentence():
    done = run_cli("config", "--method", "xrec", "--dataset", "yelp-mini", "--set", "method.precision=fp16")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "method.precision must be one of fp32, bf16-autocast, bf16-weights, not 'fp16'" in done.stderr
