"""`xrec-bench score` refuses inputs it cannot score meaningfully, with one sentence and exit code 2."""

from tests.conftest import run_cli


def score(tmp_path, predictions):
    references = tmp_path / "refs.txt"
    references.write_text("a reference\nanother reference\n", encoding="utf-8")
    return run_cli("score", "--predictions", str(predictions), "--references", str(references),
                   "--metrics", "usr,lexical", "--output-dir", str(tmp_path / "runs"))


def test_a_file_of_blank_lines_is_refused(tmp_path):
    predictions = tmp_path / "preds.txt"
    predictions.write_text("\n  \n", encoding="utf-8")
    done = score(tmp_path, predictions)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "blank" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_directory_is_called_a_directory(tmp_path):
    folder = tmp_path / "preds.txt"
    folder.mkdir()
    done = score(tmp_path, folder)
    assert done.returncode == 2, done.stderr
    assert "is a directory" in done.stderr and "does not exist" not in done.stderr
    assert not (tmp_path / "runs").exists()
