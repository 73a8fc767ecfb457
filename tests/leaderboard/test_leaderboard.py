"""The leaderboard from hand-made result files: grouping, aggregation, formatting, determinism."""

import csv
import io
import json
import re
import shutil

import pytest
from xrec_bench.errors import UserError
from xrec_bench.leaderboard import build_leaderboard

MINILM = {"model": "all-minilm-l6-v2", "num_layers": 6, "rescale": True}
ROBERTA = {"model": "roberta-large", "num_layers": 17, "rescale": True}
BART = {"model": "facebook/bart-large-cnn", "weights": "parabank"}
LEXICAL = {"tokenizer": "pepler-eval-regex", "lowercase": True, "scale": 100.0}
BART_MISSING = "facebook/bart-large-cnn is not available offline; put it in the model cache"


def metric(family, value, std=None, *, config, level=None, higher=True, status="ok", reason=None):
    return {"metric": family, "value": value, "std": std, "n": 300 if status == "ok" else 0, "status": status,
            "reason": reason, "config": config, "higher_is_better": higher,
            "level": level or ("sample" if std is not None else "corpus"), "extra": {}}


def skipped(family, reason, *, config):
    return metric(family, None, config=config, level="sample", status="skipped", reason=reason)


def write_result(root, dataset, method, run_id, *, seed=0, config=None, metrics, complete=True, n=300):
    result = {
        "schema_version": 1, "run_id": run_id, "complete": complete, "profile": "cpu", "seed": seed,
        "method": {"name": method, "version": "1", "config": {"name": method, **(config or {})}},
        "dataset": {"name": dataset, "splits": {"train": 2400, "valid": 300, "test": 300}, "test_split": "test",
                    "n_scored": n, "checksums": {"tst.pkl": "abc"}},
        "metrics": metrics, "training": None, "environment": {"python": "3.11"},
        "timings_s": {"fit": float(seed)}, "peak_memory_mb": {}, "created_at": f"2026-11-25T20:3{seed}:00Z",
    }
    path = root / dataset / method / run_id / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")


def make_results(root):
    # retrieval, weight 1.0, two seeds: averaged into one row (usr 0.98, bleu1 21, rougeL_f 31 ± 6,
    # bertscore_f1 on MiniLM 0.32 ± 0.11, mean_length 40 ± 10); BARTScore skipped in both.
    for seed, usr, bleu, rouge, rouge_std, bert, bert_std in ((0, 0.99, 20.0, 30.0, 5.0, 0.31, 0.12),
                                                              (1, 0.97, 22.0, 32.0, 7.0, 0.33, 0.10)):
        write_result(root, "yelp-mini", "retrieval", f"s{seed}-aaaa", seed=seed, config={"weight": 1.0}, metrics={
            "usr": metric("usr", usr, config={"tokenizer": "whitespace"}),
            "bleu1": metric("lexical", bleu, config=LEXICAL),
            "rougeL_f": metric("lexical", rouge, rouge_std, config=LEXICAL),
            "mean_length": metric("lexical", 35.0 + 10 * seed, 10.0, config={"unit": "whitespace words"},
                                  higher=None),
            "bertscore_f1": metric("bertscore", bert, bert_std, config=MINILM),
            "bartscore": skipped("bartscore", BART_MISSING, config=BART),
            # The judge answered for seed 0 only.
            "judge_score": (metric("judge", 50.0, 10.0, config={"judge": "qwen"}) if seed == 0 else
                            skipped("judge", "the judge endpoint did not answer", config={"judge": "qwen"})),
        })
    # retrieval, weight 2.0: a second config of the same method, hence a second row.
    write_result(root, "yelp-mini", "retrieval", "s0-bbbb", config={"weight": 2.0}, metrics={
        "usr": metric("usr", 0.5, config={"tokenizer": "whitespace"}),
        "bleu1": metric("lexical", 10.0, config=LEXICAL),
    })
    # published: BERTScore with another model (own column) and a real BARTScore value.
    write_result(root, "yelp-mini", "published", "s0-cccc", metrics={
        "usr": metric("usr", 1.0, config={"tokenizer": "whitespace"}),
        "bleu1": metric("lexical", 25.0, config=LEXICAL),
        "rougeL_f": metric("lexical", 28.0, 4.0, config=LEXICAL),
        "mean_length": metric("lexical", 40.7, 9.7, config={"unit": "whitespace words"}, higher=None),
        "bertscore_f1": metric("bertscore", 0.4, 0.2, config=ROBERTA),
        "bartscore": metric("bartscore", -2.5, 0.5, config=BART),
    })
    write_result(root, "yelp-mini", "xrec", "s0-dddd", complete=False, metrics={
        "usr": metric("usr", 0.1, config={"tokenizer": "whitespace"})})
    write_result(root, "google-mini", "published", "s0-eeee", metrics={
        "usr": metric("usr", 0.9993, config={"tokenizer": "whitespace"}),
        "usn": metric("usr", 2998, config={"tokenizer": "whitespace"}),
        "error_rate": metric("toy", 0.25, 0.01, config={}, higher=False)})
    write_result(root, "google-mini", "retrieval", "s0-ffff", n=150, metrics={
        "error_rate": metric("toy", 0.125, 0.02, config={}, higher=False)})


@pytest.fixture
def built(tmp_path):
    make_results(tmp_path / "runs")
    written = build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    return tmp_path, written


def table_rows(markdown, family):
    """{row label: {header: cell}} of the Markdown table of one metric family."""
    block = markdown.split(f"### {family}\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    headers = [h.strip() for h in block[0].strip("|").split(" | ")]
    rows = {}
    for line in block[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0]] = dict(zip(headers, cells))
    return rows


def test_writes_every_format_per_dataset_and_an_index(built):
    tmp_path, written = built
    boards = tmp_path / "boards"
    assert written == [boards / f"{d}.{ext}" for d in ("google-mini", "yelp-mini")
                       for ext in ("md", "csv", "tex", "html")] + [boards / "index.md", boards / "built-from.json"]
    index = (boards / "index.md").read_text()
    assert "| google-mini | 2 | 2 |" in index and "| yelp-mini | 3 | 4 |" in index  # xrec is incomplete


def test_markdown_table_averages_seeds_splits_configs_and_bolds_the_best(built):
    markdown = (built[0] / "boards" / "yelp-mini.md").read_text()
    assert "| xrec" not in markdown and "s0-dddd" not in markdown  # incomplete runs are not read
    lexical = table_rows(markdown, "lexical")
    assert set(lexical) == {"published", "retrieval [weight=1.0]", "retrieval [weight=2.0]"}
    one = lexical["retrieval [weight=1.0]"]
    assert one["Seeds"] == "2" and one["n"] == "300"
    assert one["bleu1 ↑"] == "21.00"  # (20 + 22) / 2, corpus level: no std
    assert one["rougeL_f ↑"] == "**31.00 ± 6.00**"  # means (30, 32), sample stds (5, 7) averaged; best
    assert lexical["published"]["bleu1 ↑"] == "**25.00**" and lexical["published"]["rougeL_f ↑"] == "28.00 ± 4.00"
    assert lexical["retrieval [weight=2.0]"]["rougeL_f ↑"] == ""  # not computed for that row
    # mean_length: no direction, so no arrow and no bold.
    assert one["mean_length"] == "40.00 ± 10.00" and lexical["published"]["mean_length"] == "40.70 ± 9.70"
    usr = table_rows(markdown, "usr")
    assert usr["published"]["usr ↑"] == "**1.0000**" and usr["retrieval [weight=1.0]"]["usr ↑"] == "0.9800"


def test_different_metric_configs_get_separate_columns(built):
    bert = table_rows((built[0] / "boards" / "yelp-mini.md").read_text(), "bertscore")
    assert bert["retrieval [weight=1.0]"] == {
        "Method": "retrieval [weight=1.0]", "Seeds": "2", "n": "300",
        "bertscore_f1 [all-minilm-l6-v2] ↑": "0.3200 ± 0.1100", "bertscore_f1 [roberta-large] ↑": ""}
    # One value per column: nothing to compare, so nothing is bold.
    assert bert["published"]["bertscore_f1 [roberta-large] ↑"] == "0.4000 ± 0.2000"
    assert "retrieval [weight=2.0]" not in bert  # no bertscore value at all


def test_skipped_metric_shows_a_dash_and_its_reason(built):
    boards = built[0] / "boards"
    markdown = (boards / "yelp-mini.md").read_text()
    bart = table_rows(markdown, "bartscore")
    assert bart["retrieval [weight=1.0]"]["bartscore [bart-large-cnn] ↑"] == "— [^1]"
    assert bart["published"]["bartscore [bart-large-cnn] ↑"] == "-2.5000 ± 0.5000"
    assert f"[^1]: bartscore [bart-large-cnn]: {BART_MISSING}" in markdown
    html = (boards / "yelp-mini.html").read_text()
    assert '—<sup><a href="#note-1">1</a></sup>' in html and f'<li id="note-1">bartscore [bart-large-cnn]: {BART_MISSING}</li>' in html


def test_a_family_skipped_for_every_method_gets_one_sentence_instead_of_a_table_of_dashes(tmp_path):
    for method, run_id, usr in (("retrieval", "s0-aaaa", 0.9), ("nrt", "s0-bbbb", 0.2)):
        write_result(tmp_path / "runs", "yelp-mini", method, run_id, metrics={
            "usr": metric("usr", usr, config={"tokenizer": "whitespace"}),
            "bartscore": skipped("bartscore", BART_MISSING, config=BART)})
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    assert "### bartscore" not in markdown and "### usr" in markdown
    assert "Skipped for every method, so without a detail table: bartscore [^1] (why: see the notes)." in markdown
    assert f"[^1]: bartscore [bart-large-cnn]: {BART_MISSING}" in markdown
    html = (tmp_path / "boards" / "yelp-mini.html").read_text()
    assert "<h3>bartscore</h3>" not in html
    assert ('Skipped for every method, so without a detail table: bartscore<sup><a href="#note-1">1</a></sup>'
            in html) and f'<li id="note-1">bartscore [bart-large-cnn]: {BART_MISSING}</li>' in html
    tex = (tmp_path / "boards" / "yelp-mini.tex").read_text()
    assert "% Skipped for every method, so without a detail table: bartscore.\n" in tex  # LaTeX has no notes
    assert "bartscore [bart" not in tex.split("% Skipped for every method")[1]  # no table of it follows
    assert tex.count(r"\begin{tabular}") == 2  # the main table and usr's
    assert "bartscore [bart-large-cnn]" in (tmp_path / "boards" / "yelp-mini.csv").read_text()  # the data keep it


def test_a_board_whose_every_family_was_skipped_has_no_detail_legend(tmp_path):
    write_result(tmp_path / "runs", "yelp-mini", "retrieval", "s0-aaaa", metrics={
        "bartscore": skipped("bartscore", BART_MISSING, config=BART)})
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    details = markdown.split("## Detail tables\n\n", 1)[1].split("## Notes", 1)[0]
    assert details == "Skipped for every method, so without a detail table: bartscore [^1] (why: see the notes).\n\n"
    html = (tmp_path / "boards" / "yelp-mini.html").read_text()
    assert "Cells: mean ± std over the test samples" not in html and "<h3>" not in html


def test_a_metric_skipped_in_some_seeds_averages_the_others_and_says_so(built):
    markdown = (built[0] / "boards" / "yelp-mini.md").read_text()
    judge = table_rows(markdown, "judge")
    assert judge == {"retrieval [weight=1.0]": {"Method": "retrieval [weight=1.0]", "Seeds": "2", "n": "300",
                                                "judge_score ↑": "50.00 ± 10.00 [^2]"}}
    assert ("[^2]: judge_score: the judge endpoint did not answer (skipped in 1 of 2 seeds; the value averages "
            "the others)") in markdown


def test_lower_is_better_bolds_the_minimum(built):
    toy = table_rows((built[0] / "boards" / "google-mini.md").read_text(), "toy")
    assert toy["retrieval"]["error_rate ↓"] == "**0.1250 ± 0.0200**"
    assert toy["published"]["error_rate ↓"] == "0.2500 ± 0.0100"
    markdown = (built[0] / "boards" / "google-mini.md").read_text()
    assert "test sets of different sizes (n = 150, 300)" in markdown
    assert "different sizes" not in (built[0] / "boards" / "yelp-mini.md").read_text()
    usr = table_rows(markdown, "usr")
    assert usr["published"] == {"Method": "published", "Seeds": "1", "n": "300", "usn ↑": "2998", "usr ↑": "0.9993"}


def test_csv_is_one_wide_machine_readable_table(built):
    rows = list(csv.DictReader(io.StringIO((built[0] / "boards" / "yelp-mini.csv").read_text())))
    by_label = {row["method"]: row for row in rows}
    assert list(by_label) == ["published", "retrieval [weight=1.0]", "retrieval [weight=2.0]"]
    one = by_label["retrieval [weight=1.0]"]
    assert one["bertscore_f1 [all-minilm-l6-v2]"] == "0.32"
    assert one["bertscore_f1 [all-minilm-l6-v2] sample std"] == "0.11"
    assert one["bertscore_f1 [all-minilm-l6-v2] seed std"] == "0.01414213562"  # stdev(0.31, 0.33)
    assert one["bartscore [bart-large-cnn]"] == "skipped" and one["bertscore_f1 [roberta-large]"] == ""
    assert one["usr"] == "0.98" and "usr sample std" not in one  # corpus level: no per-sample std
    assert one["usr seed std"] == "0.01414213562"
    assert one["seeds"] == "2"


def test_latex_escapes_and_bolds(built):
    tex = (built[0] / "boards" / "yelp-mini.tex").read_text()
    assert r"bleu1 $\uparrow$" in tex and r"\textbf{25.00}" in tex
    assert r"bertscore\_f1 [all-minilm-l6-v2] $\uparrow$" in tex
    assert r"31.00 $\pm$ 6.00" in tex
    # The main table, then one per family: bartscore, bertscore, judge, lexical, usr.
    assert tex.count(r"\begin{tabular}") == 6
    assert r"retrieval [weight=1.0] & 2 & 300 & --" in tex  # the skipped BARTScore


def test_html_is_self_contained_with_one_chart_per_value(built):
    html = (built[0] / "boards" / "yelp-mini.html").read_text()
    assert html.count("<script>") == 1 and "<link" not in html and "src=" not in html  # one inline script
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    # Charts: usr, bleu1, rougeL_f, mean_length, 2 bertscore columns, bartscore (published only), judge = 8.
    assert html.count("<svg") == 8
    rouge_chart = html.split('aria-label="rougeL_f ↑"', 1)[1].split("</svg>", 1)[0]
    # No interval is known for these rows (no samples files, no recorded ci95): no error bar, only the axis;
    # the per-sample std is not drawn as one.
    assert rouge_chart.count("<rect") == 2 and rouge_chart.count("<path") == 1
    assert ">31.00</text>" in rouge_chart and "±" not in rouge_chart


def test_rebuilds_are_byte_identical(tmp_path, built):
    first = {p.name: p.read_bytes() for p in built[1]}
    # The same results with their keys in another order and no indentation, in another folder: the same
    # boards; only the manifest, which records each result.json's sha256, differs.
    shutil.copytree(tmp_path / "runs", tmp_path / "copy")
    for path in (tmp_path / "copy").rglob("result.json"):
        result = json.loads(path.read_text())
        path.write_text(json.dumps(dict(reversed(list(result.items())))))
    second = build_leaderboard(tmp_path / "copy", tmp_path / "again")
    again = {p.name: p.read_bytes() for p in second}
    assert again.pop("built-from.json") != first["built-from.json"]
    assert again == {name: data for name, data in first.items() if name != "built-from.json"}
    assert build_leaderboard(tmp_path / "runs", tmp_path / "boards") == built[1]
    assert {p.name: p.read_bytes() for p in built[1]} == first


def test_no_complete_result_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="No complete result.json"):
        build_leaderboard(tmp_path / "missing", tmp_path / "out")
    write_result(tmp_path / "runs", "yelp-mini", "xrec", "s0-x", complete=False, metrics={})
    with pytest.raises(UserError, match="No complete result.json"):
        build_leaderboard(tmp_path / "runs", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_corrupt_result_file_is_named(tmp_path):
    path = tmp_path / "runs" / "yelp-mini" / "xrec" / "s0-x" / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    warnings = []
    with pytest.raises(UserError, match="No complete result.json"):
        build_leaderboard(tmp_path / "runs", tmp_path / "out", warn=warnings.append)
    assert len(warnings) == 1 and "s0-x/result.json" in warnings[0] and "not valid JSON" in warnings[0]


def test_bad_result_files_are_skipped_one_warning_each_and_the_rest_is_built(tmp_path):
    runs = tmp_path / "runs"
    good = {"usr": metric("usr", 0.9, config={})}
    write_result(runs, "yelp-mini", "retrieval", "s0-good", metrics=good)
    write_result(runs, "yelp-mini", "nrt", "s0-unfinished", metrics=good, complete=False)
    write_result(runs, "yelp-mini", "peter", "s0-future", metrics=good)
    future = runs / "yelp-mini" / "peter" / "s0-future" / "result.json"
    future.write_text(future.read_text().replace('"schema_version": 1', '"schema_version": 99'))
    write_result(runs, "yelp-mini", "att2seq", "s0-nomethod", metrics=good)
    nomethod = runs / "yelp-mini" / "att2seq" / "s0-nomethod" / "result.json"
    payload = json.loads(nomethod.read_text())
    del payload["method"]
    nomethod.write_text(json.dumps(payload))
    truncated = runs / "yelp-mini" / "xrec" / "s0-torn" / "result.json"
    truncated.parent.mkdir(parents=True)
    truncated.write_text('{"schema_version": 1, "complete": tr')
    (runs / "yelp-mini" / "notes.txt").write_text("my notes")
    (runs / "yelp-mini" / "pepler" / "s0-running").mkdir(parents=True)
    warnings = []
    written = build_leaderboard(runs, tmp_path / "boards", warn=warnings.append)
    assert (tmp_path / "boards" / "yelp-mini.md") in written
    assert "retrieval" in (tmp_path / "boards" / "yelp-mini.md").read_text()
    named = {name: [w for w in warnings if name in w] for name in
             ("s0-unfinished", "s0-future", "s0-nomethod", "s0-torn", "notes.txt", "s0-running")}
    assert all(len(found) == 1 for found in named.values()), warnings
    assert len(warnings) == 6 and all(w.startswith("warning: skipped ") and "\n" not in w for w in warnings)
    assert "not complete" in named["s0-unfinished"][0] and "schema version 99" in named["s0-future"][0]
    assert "method" in named["s0-nomethod"][0] and "not valid JSON" in named["s0-torn"][0]


def test_an_ablation_grid_names_each_row_by_the_switch_it_flips():
    from xrec_bench.leaderboard.board import distinguishing_tags

    base = {"adapter": "moe", "graph_embeddings": "lightgcn", "injection": "all-layers", "profiles_in_prompt": True}
    flips = {"a": base, "b": {**base, "injection": "none"}, "c": {**base, "adapter": "linear"},
             "d": {**base, "graph_embeddings": "random"}, "e": {**base, "profiles_in_prompt": False}}
    assert distinguishing_tags(flips, with_keys=True) == {
        "a": "base", "b": "injection=none", "c": "adapter=linear", "d": "graph_embeddings=random",
        "e": "profiles_in_prompt=false"}
    two = distinguishing_tags({"a": base, "b": {**base, "injection": "none"}}, with_keys=True)
    assert two == {"a": "injection=all-layers", "b": "injection=none"}  # short tags keep every value


def test_the_cli_default_writes_beside_the_results_not_into_the_committed_boards(tmp_path, monkeypatch):
    """`xrec-bench leaderboard` after `xrec-bench run` (the README's main job) must leave leaderboards/ alone."""
    from click.testing import CliRunner
    from xrec_bench.cli import main

    monkeypatch.chdir(tmp_path)
    write_result(tmp_path / "runs", "yelp-mini", "toy", "s0-aaaa", metrics={
        "usr": metric("usr", 0.9, config={})})
    (tmp_path / "leaderboards").mkdir()
    done = CliRunner().invoke(main, ["leaderboard"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "runs" / "boards" / "yelp-mini.md").is_file()
    assert not any((tmp_path / "leaderboards").iterdir())
