import os
import pickle

import pytest
from xrec_bench.data.safe_pickle import RefusedPickle, load_dataframe, load_pickle, load_string_list
from xrec_bench.errors import UserError

from tests.conftest import run_cli


class WritesAFile:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class EvalsCode:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_release_files_load(mirror):
    frame = load_dataframe(mirror / "yelp" / "tst.pkl")
    assert list(frame.columns) == ["uid", "iid", "title", "user_summary", "item_summary", "explanation"]
    assert len(frame) == 3000
    assert len(load_string_list(mirror / "google" / "tst_pred.pkl")) == 3000


@pytest.mark.parametrize("payload", ["system", "eval"])
def test_malicious_pickle_is_refused_and_its_payload_never_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(WritesAFile(marker) if payload == "system" else EvalsCode()))
    with pytest.raises(RefusedPickle, match="Refused to load"):
        load_pickle(evil)
    assert not marker.exists()


def test_malicious_tst_pkl_in_the_data_root_exits_2_and_writes_nothing(tmp_path, mirror):
    data_root = tmp_path / "data"
    (data_root / "google").mkdir(parents=True)
    marker = tmp_path / "pwned"
    (data_root / "google" / "tst.pkl").write_bytes(pickle.dumps(WritesAFile(marker)))
    done = run_cli("run", "--method", "published", "--dataset", "google", "--metrics", "usr",
                   "--output-dir", str(tmp_path / "runs"), env={"XREC_BENCH_DATA": str(data_root)})
    assert done.returncode == 2, done.stderr
    # Verification against the manifest refuses the file before the (restricted) unpickler reads it.
    assert "google/tst.pkl" in done.stderr and "xrec-bench data fetch google" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()


def test_malicious_predictions_file_is_refused_by_score(tmp_path, mirror):
    marker = tmp_path / "pwned"
    evil = tmp_path / "preds.pkl"
    evil.write_bytes(pickle.dumps(WritesAFile(marker)))
    done = run_cli("score", "--predictions", str(evil), "--dataset", "google", "--metrics", "usr",
                   "--output-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "Refused to load" in done.stderr
    assert not marker.exists() and not (tmp_path / "runs").exists()


class HugeComplex:
    def __reduce__(self):
        return (complex, (10**400,))


@pytest.mark.parametrize("problem", ["truncated", "overflow", "not-a-pickle"])
def test_a_broken_pickle_gets_one_sentence_that_says_what_is_wrong(tmp_path, problem):
    path = tmp_path / "broken.pkl"
    if problem == "truncated":
        path.write_bytes(pickle.dumps(["a", "b", "c"] * 100)[:-40])
    elif problem == "overflow":
        path.write_bytes(pickle.dumps(HugeComplex()))
    else:
        path.write_bytes(b"this is plain text, not a pickle\n")
    with pytest.raises(UserError) as raised:
        load_pickle(path)
    message = str(raised.value)
    assert "asks to run" not in message and "is not a readable pickle" in message
    assert "\n" not in message and message.endswith(".")


def test_a_dataframe_pickled_by_the_installed_pandas_loads(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"uid": [1, 2], "iid": [3, 4], "title": ["a", "b"], "user_summary": ["u", "v"],
                          "item_summary": ["i", "j"], "explanation": ["e", "f"]})
    for protocol in (2, 4, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"frame-{protocol}.pkl"
        frame.to_pickle(path, protocol=protocol)
        assert load_dataframe(path).equals(frame)
