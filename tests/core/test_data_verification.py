"""Files in the data root are verified against the manifest when first used, and results record what was computed."""

import hashlib
import shutil

import pytest
from xrec_bench.data import fetch, load_dataset
from xrec_bench.data.fetch import ensure_file, fetch_dataset, manifest
from xrec_bench.errors import UserError


@pytest.fixture
def data_root(tmp_path, monkeypatch, mirror):
    root = tmp_path / "data"
    (root / "yelp").mkdir(parents=True)
    monkeypatch.setenv("XREC_BENCH_DATA", str(root))
    monkeypatch.setenv("XREC_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fetch, "_VERDICTS", {}, raising=False)
    for name in ("tst.pkl", "total_trn.csv", "total_val.csv", "total_tst.csv"):
        shutil.copyfile(mirror / "yelp" / name, root / "yelp" / name)
    return root / "yelp"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_in_place(path):
    """Change one explanation's word, keeping the size: still a valid pickle, no longer the release's."""
    data = path.read_bytes()
    position = data.index(b"would")
    path.write_bytes(data[:position] + b"could" + data[position + 5:])


def test_a_tst_pkl_edited_in_place_is_refused(data_root):
    edit_in_place(data_root / "tst.pkl")
    with pytest.raises(UserError) as raised:
        load_dataset("yelp-mini", need_train=False)
    message = str(raised.value)
    assert "yelp/tst.pkl" in message and "sha256" in message and "xrec-bench data fetch yelp" in message


def test_a_truncated_training_graph_is_refused(data_root):
    text = (data_root / "total_trn.csv").read_text()
    (data_root / "total_trn.csv").write_text(text[:text.index("\n", len(text) // 2) + 1])
    with pytest.raises(UserError, match="total_trn.csv"):
        load_dataset("yelp-mini")


def test_data_fetch_repairs_what_fails_verification(data_root):
    (data_root / "total_val.csv").write_bytes((data_root / "total_val.csv").read_bytes()[:1000])
    status = fetch_dataset("yelp", files=["tst.pkl", "total_val.csv"])
    assert status["tst.pkl"] == "present"
    assert status["total_val.csv"].startswith("replaced")
    assert sha(data_root / "total_val.csv") == manifest()[("yelp", "total_val.csv")].sha256
    assert ensure_file("yelp", "total_val.csv") == data_root / "total_val.csv"


def test_the_card_records_the_checksums_of_the_files_it_read(data_root, mirror):
    card = load_dataset("yelp-mini").card
    assert card["checksums"] == {name: sha(data_root / name)
                                 for name in ("tst.pkl", "total_trn.csv", "total_val.csv", "total_tst.csv")}
    with_released = load_dataset("yelp-mini", need_train=False, need_released=True).card
    assert set(with_released["checksums"]) == {"tst.pkl", "tst_pred.pkl", "tst_ref.pkl"}
    assert with_released["checksums"]["tst_ref.pkl"] == sha(data_root / "tst_ref.pkl")


def test_files_fetched_since_do_not_change_the_recorded_dataset_block(data_root, mirror):
    # Regression: the block listed every verified file in the data root, so a run made after another
    # command had fetched the released predictions recorded a different block, and the leaderboard
    # split one method's seeds into two rows.
    before = load_dataset("yelp-mini").card["checksums"]
    load_dataset("yelp-mini", need_train=False, need_released=True)  # fetches tst_pred.pkl, tst_ref.pkl
    assert (data_root / "tst_ref.pkl").is_file()
    assert load_dataset("yelp-mini").card["checksums"] == before


def test_a_verdict_is_cached_by_size_and_mtime(data_root, monkeypatch):
    ensure_file("yelp", "tst.pkl")
    hashed = []
    monkeypatch.setattr(fetch, "_VERDICTS", {}, raising=False)  # a new process: only the on-disk verdict remains
    monkeypatch.setattr(fetch, "sha256_of", lambda path: hashed.append(path) or sha(path))
    ensure_file("yelp", "tst.pkl")
    assert hashed == []
    edit_in_place(data_root / "tst.pkl")
    with pytest.raises(UserError):
        ensure_file("yelp", "tst.pkl")
    assert hashed == [data_root / "tst.pkl"]


def test_fetched_data_files_follow_the_umask(data_root, monkeypatch):
    import os

    (data_root / "total_val.csv").unlink()
    previous = os.umask(0o022)
    try:
        ensure_file("yelp", "total_val.csv")
    finally:
        os.umask(previous)
    assert (data_root / "total_val.csv").stat().st_mode & 0o777 == 0o644
