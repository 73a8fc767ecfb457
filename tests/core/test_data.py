import hashlib

import pytest
from xrec_bench.data import load_dataset
from xrec_bench.data.fetch import ensure_file
from xrec_bench.errors import UserError


@pytest.fixture(scope="module")
def yelp_mini(mirror):
    return load_dataset("yelp-mini")


def test_mini_split_sizes_and_disjointness(yelp_mini):
    assert (len(yelp_mini.train), len(yelp_mini.valid), len(yelp_mini.test)) == (2400, 300, 300)
    ids = [r.sample_id for r in yelp_mini.train + yelp_mini.valid + yelp_mini.test]
    assert len(set(ids)) == 3000


def test_mini_split_follows_the_documented_hash_rule(yelp_mini):
    def key(r):
        return hashlib.sha256(f"xrec-bench-mini-v1:yelp:{r.uid}:{r.iid}".encode()).hexdigest()

    everything = yelp_mini.train + yelp_mini.valid + yelp_mini.test
    assert [r.sample_id for r in sorted(everything, key=key)] == [r.sample_id for r in everything]
    # Pinned so that a change of rule cannot pass silently (the split must be the same everywhere).
    assert hashlib.sha256(",".join(r.sample_id for r in yelp_mini.test).encode()).hexdigest()[:16] == \
        "f074520e27e00825"


def test_zeroshot_has_no_test_user_with_a_training_explanation(mirror):
    splits = load_dataset("google-mini-zeroshot")
    train_users = {r.uid for r in splits.train}
    assert splits.test and not any(r.uid in train_users for r in splits.test)
    assert splits.card["test_user_without_train_explanation"] == 1.0
    assert "NOT the paper's splits" in splits.card["note"]


def test_card_reports_graph_overlap_and_coverage(yelp_mini):
    card = yelp_mini.card
    assert card["graph"]["train_interactions"] == 314944
    edges = {(int(u), int(i)) for u, i in yelp_mini.graph.train_edges}
    expected = sum((r.uid, r.iid) in edges for r in yelp_mini.test) / 300
    assert card["test_pairs_in_train_graph"] == round(expected, 4)
    assert 0 < card["test_user_without_train_explanation"] < 1
    assert card["explanation_words"]["test"]["max"] >= card["explanation_words"]["test"]["median"]


def test_amazon_graph_comes_from_neighbour_lists(mirror):
    splits = load_dataset("amazon-mini")
    assert splits.graph.num_users == 15349 and splits.graph.num_items == 15247
    assert len(splits.graph.train_edges) == 288671


def test_released_pairs_keep_the_published_pairing(mirror):
    splits = load_dataset("yelp", need_train=False, need_released=True)
    released = splits.released
    assert len(released) == 3000
    assert sum(r.meta["matched"] for r in released) == 1438
    by_id = {r.sample_id: r for r in splits.test}
    for record in released:
        if record.meta["matched"]:
            assert by_id[record.sample_id].explanation == record.explanation


def test_a_missing_file_says_which_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path))
    monkeypatch.setenv("XREC_BENCH_MIRROR", str(tmp_path / "nowhere"))
    with pytest.raises(UserError) as error:
        ensure_file("yelp", "trn.pkl")
    message = str(error.value)
    assert "yelp/trn.pkl" in message and str(tmp_path) in message and "xrec-bench data fetch" in message


def test_a_corrupt_source_file_is_refused(tmp_path, monkeypatch, mirror):
    source = tmp_path / "source" / "yelp"
    source.mkdir(parents=True)
    (source / "tst_ref.pkl").write_bytes((mirror / "yelp" / "tst_ref.pkl").read_bytes()[:-10] + b"0123456789")
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "root"))
    with pytest.raises(UserError, match="refusing it"):
        ensure_file("yelp", "tst_ref.pkl", source=str(tmp_path / "source"))
    assert not (tmp_path / "root" / "yelp" / "tst_ref.pkl").exists()
