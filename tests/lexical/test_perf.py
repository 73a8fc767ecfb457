"""Speed of USR and the lexical family on XRec's 3,000 released Google predictions (ratios, not seconds)."""

import timeit

import pytest
from xrec_bench.metrics.lexical import LexicalOverlap, lcs_length, pepler_tokenize
from xrec_bench.metrics.usr import unique_sentence_count
from xrec_bench.plugin import RunContext

from tests.lexical.oracles import official_unique_count, released_predictions, released_references, table_lcs


def best_of(function, repeat=3):
    return min(timeit.repeat(function, number=1, repeat=repeat))


@pytest.mark.perf
def test_usr_set_is_much_faster_than_the_official_quadratic_loop(benchmark):
    predictions = released_predictions("google")
    tokens = [text.split() for text in predictions]  # the official loop gets its tokens for free
    quadratic = best_of(lambda: official_unique_count(tokens))
    linear = best_of(lambda: unique_sentence_count(predictions))
    assert benchmark(unique_sentence_count, predictions) == official_unique_count(tokens) == 2998
    benchmark.extra_info.update(quadratic_s=quadratic, linear_s=linear, speedup=quadratic / linear)
    print(f"USR on 3000: set {linear * 1e3:.2f} ms, official loop {quadratic * 1e3:.0f} ms, "
          f"{quadratic / linear:.0f}x")
    assert linear < 1.0
    assert quadratic / linear > 10


@pytest.mark.perf
def test_lexical_family_on_3000_pairs(benchmark):
    predictions, references = released_predictions("google"), released_references("google")
    hyps = [pepler_tokenize(text) for text in predictions]
    refs = [pepler_tokenize(text) for text in references]
    table = best_of(lambda: [table_lcs(h, r) for h, r in zip(hyps, refs)], repeat=1)
    bit_parallel = best_of(lambda: [lcs_length(h, r) for h, r in zip(hyps, refs)])
    metric = LexicalOverlap({"lowercase": True})
    whole = best_of(lambda: metric.score(predictions, references, RunContext()), repeat=2)
    benchmark(metric.score, predictions, references, RunContext())
    benchmark.extra_info.update(lcs_table_s=table, lcs_bit_parallel_s=bit_parallel, score_s=whole)
    print(f"lexical on 3000: score {whole:.2f} s; LCS table {table:.2f} s vs bit-parallel "
          f"{bit_parallel * 1e3:.0f} ms ({table / bit_parallel:.0f}x)")
    assert whole < 10
    assert table / bit_parallel > 3
