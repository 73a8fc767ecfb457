"""The registries refuse a plugin that breaks its contract, before any run can use it."""

from __future__ import annotations

import pytest
from xrec_bench.errors import UserError
from xrec_bench.plugin import Method, Metric, ValueSpec, check_method
from xrec_bench.registry import Registry, datasets, methods, metrics


class Echo(Method):
    needs_training = False

    def explain(self, records, ctx):
        return [r.title for r in records]


class Forgetful(Method):
    """Trains, but a resumed run could not load what it learned."""

    def fit(self, splits, ctx):
        self.titles = [r.title for r in splits.train]

    def explain(self, records, ctx):
        return [self.titles[0] for _ in records]


class Remembering(Forgetful):
    def save(self, directory):
        (directory / "titles.txt").write_text("\n".join(self.titles))

    def load(self, directory, ctx):
        self.titles = (directory / "titles.txt").read_text().splitlines()


def test_a_training_method_without_save_and_load_is_refused():
    with pytest.raises(TypeError, match="does not implement save, load"):
        methods.add("forgetful", Forgetful, summary="test double")
    assert "forgetful" not in methods.names()
    check_method(Remembering)  # with both it is accepted
    check_method(Echo)  # a method that does not train needs neither


def test_a_method_without_explain_or_not_a_method_is_refused():
    class Silent(Method):
        needs_training = False

    for plugin in (Silent, object, Echo({})):
        with pytest.raises(TypeError):
            methods.add("broken", plugin, summary="test double")


def test_a_metric_must_declare_its_values_and_nothing_else():
    class Undeclared(Metric):
        pass

    class OldStyle(Metric):
        values = {"x": ValueSpec("sample")}
        level = "sample"

    class NotSpecs(Metric):
        values = {"x": "sample"}

    for plugin in (Undeclared, OldStyle, NotSpecs):
        with pytest.raises(TypeError, match="declare"):
            metrics.add("broken", plugin, summary="test double")
    assert "broken" not in metrics.names()


def test_a_dataset_must_declare_its_release_and_item_word():
    class NoItemWord:
        release = "yelp"

        def load(self, *, need_train=True, need_released=False):
            raise AssertionError("never loaded")

        def card(self):
            return {}

    class EmptyItemWord(NoItemWord):
        item_word = ""

    for plugin in (NoItemWord(), EmptyItemWord()):
        with pytest.raises(TypeError):
            datasets.add("broken", plugin, summary="test double")


class FakeEntryPoint:
    name = "forgetful"
    value = "someones_package:Forgetful"

    def load(self):
        return Forgetful


def test_an_installed_plugin_that_breaks_the_contract_is_a_user_error_naming_it(monkeypatch):
    registry = Registry("method", "xrec_bench.methods", "xrec_bench.methods", check_method)
    monkeypatch.setattr("xrec_bench.registry.entry_points", lambda group: [FakeEntryPoint()])
    with pytest.raises(UserError, match=r"'forgetful' \(someones_package:Forgetful.*does not implement save"):
        registry.names()
