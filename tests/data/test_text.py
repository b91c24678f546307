"""The stdlib character corpus: vocabulary round trip, split by file, contiguous TBPTT stream."""
import torch
from hypothesis import given, settings, strategies as st

from axonal.data import load_dataset
from axonal.data import text


@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=300), max_size=200))
@settings(max_examples=60, deadline=None)
def test_encode_decode_round_trip_in_vocabulary(s):
    ids = text.encode(s)
    assert ids.shape == (len(s),) and ids.dtype == torch.int64
    back = text.decode(ids)
    expect = "".join(c if c in text.VOCAB[1:] else "?" for c in s)
    assert back == expect


def test_vocabulary_is_fixed():
    assert len(text.VOCAB) == 98 and text.VOCAB[text.encode("a")[0]] == "a"
    assert text.encode("é\n").tolist() == [text.UNK, 1]


def test_split_by_file_is_disjoint_and_depends_on_name_only(tmp_path):
    for name in ("a.py", "b.py", "c.py", "zz.py", "os.py", "re.py", "abc.py", "ast.py"):
        (tmp_path / name).write_text(f"# {name}\nx = 1\n")
    files = text.corpus_files(str(tmp_path))
    names = [f for s in files.values() for f in s]
    assert sorted(names) == sorted(str(p) for p in tmp_path.glob("*.py"))
    for s, fs in files.items():
        assert all(text.split_of(f) == s for f in fs)
        assert fs == sorted(fs)
    # adding a file never moves another one
    (tmp_path / "new_file.py").write_text("y = 2\n")
    again = text.corpus_files(str(tmp_path))
    for s in files:
        assert set(files[s]) <= set(again[s])


def test_empty_folder_is_a_clear_error(tmp_path):
    import pytest
    with pytest.raises(FileNotFoundError, match="no Python source files"):
        text.corpus_files(str(tmp_path))


def test_real_corpus_summary():
    s = text.corpus_summary()
    assert s["vocab_size"] == 98
    assert s["characters"]["train"] > 1_000_000 and s["characters"]["test"] > 50_000
    assert s["unk_fraction"]["train"] < 0.01
    assert not set(s["test_files"]) & set(s["val_files"])


@given(n=st.integers(20, 300), b=st.integers(1, 5), t=st.integers(1, 17))
@settings(max_examples=40, deadline=None)
def test_stream_rows_are_contiguous_across_windows(n, b, t):
    ids = torch.arange(n)
    if (n - 1) // b < 2:
        return
    xs, ys = zip(*text.stream_batches(ids, b, t))
    assert len(xs) == text.n_windows(ids, b, t)
    x, y = torch.cat(xs), torch.cat(ys)           # [L, B]
    L = (n - 1) // b
    assert x.shape == (L, b)
    for row in range(b):
        assert x[:, row].tolist() == list(range(row * L, (row + 1) * L))
    assert torch.equal(y, x + 1)


def test_load_dataset_api():
    splits = load_dataset("python_stdlib_text", seq_len=32, max_chars=4000)
    x, y = splits.train[0]
    assert x.shape == (32, 1) and y.shape == (32,)
    assert torch.equal(x[1:, 0].long(), y[:-1])
    assert splits.info.n_classes == 98 and splits.info.per_step
