"""`python -m pipelines.seq2seq` end to end on tiny data the test writes itself."""

import datetime
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from pipelines import seq2seq


def invoke(*args):
    result = CliRunner().invoke(seq2seq.main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def lines_of(output):
    return [json.loads(line) for line in output.strip().splitlines() if line.startswith("{")]


def reversed_pairs(n, seed):
    """A string-to-string task: a word of letters a-f, written backwards."""
    import random

    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdef") for _ in range(rng.randint(2, 5))) for _ in range(n)]
    return "".join(f"{w}\t{w[::-1]}\n" for w in words)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seq2seq")
    (folder / "train.tsv").write_text(reversed_pairs(600, 0))
    (folder / "dev.tsv").write_text(reversed_pairs(40, 1))
    out = folder / "model"
    result = invoke(
        "train",
        "--train",
        folder / "train.tsv",
        "--dev",
        folder / "dev.tsv",
        "--out",
        out,
        "--epochs",
        12,
        "--units",
        32,
        "--embedding-dim",
        16,
        "--learning-rate",
        0.01,
        "--dropout",
        0.0,
        "--beam",
        2,
        "--average",
        3,
    )
    assert result.exit_code == 0, result.output
    return {"folder": folder, "out": out}


def test_learns_to_reverse_and_reports_metrics(trained):
    result = invoke(
        "evaluate", "--model", trained["out"], "--data", trained["folder"] / "dev.tsv", "--json"
    )
    metrics = lines_of(result.output)[-1]
    assert set(metrics) == {"wer", "per", "exact", "examples"}  # chars: no BLEU
    assert metrics["exact"] > 0.8 and metrics["wer"] == pytest.approx(1 - metrics["exact"])
    card = json.loads((trained["out"] / "card.json").read_text())
    assert card["beam"] == 2 and seq2seq.Sides.load(trained["out"]).beam == 2  # decoding default
    assert card["architecture"]["source_level"] == "char" and card["task"] == "seq2seq"
    # --average 3: the mean of the last epochs' weights was evaluated after every epoch
    history = json.loads((trained["out"] / "history.json").read_text())
    assert "dev_avg_wer" not in history[0] and all("dev_avg_wer" in h for h in history[1:])
    assert "best_averaged" in card


def test_predict_greedy_and_beam_and_plot(trained, tmp_path):
    png = tmp_path / "attention.png"
    result = invoke(
        "predict", "--model", trained["out"], "--json", "abcd", "fed", "--plot-attention", png
    )
    greedy = lines_of(result.output)
    assert [r["output"] for r in greedy] == ["dcba", "def"]
    assert all(r["score"] <= 0 for r in greedy) and png.stat().st_size > 1000
    beam = lines_of(
        invoke("predict", "--model", trained["out"], "--json", "--beam", 3, "abcd").output
    )
    assert beam[0]["output"] == "dcba" and beam[0]["score"] >= greedy[0]["score"] - 1e-4


def test_export_decodes_inside_the_graph(trained, tmp_path):
    texts = ["abcd", "fed", "", "zz"]
    served = tmp_path / "served"
    assert invoke("export", "--model", trained["out"], "--out", served).exit_code == 0
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["zoo"] = None
        sys.modules["pipelines"] = None
        import tensorflow as tf
        out = tf.saved_model.load({str(served)!r}).signatures["serving_default"](
            texts=tf.constant({texts!r}))
        print(json.dumps([[o.decode() for o in out["outputs"].numpy()],
                          out["scores"].numpy().tolist()]))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=""),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    outputs, scores = json.loads(run.stdout.strip().splitlines()[-1])
    greedy = invoke("predict", "--model", trained["out"], "--json", "--beam", 1, *texts)
    expected = lines_of(greedy.output)
    assert outputs == [r["output"] for r in expected]
    assert scores == pytest.approx([r["score"] for r in expected], abs=1e-4)


def test_cmudict_reader_and_any_pronunciation_counts(tmp_path):
    path = tmp_path / "mini.dict"
    path.write_text(
        ";;; a comment line\n"
        "tomato T AH0 M EY1 T OW2\n"
        "tomato(2) T AH0 M AA1 T OW2 # british\n"
        "cat K AE1 T\n"
    )
    entries = seq2seq.read_cmudict(path)
    assert entries == [
        ("tomato", "T AH0 M EY1 T OW2", 2),
        ("tomato", "T AH0 M AA1 T OW2", 3),
        ("cat", "K AE1 T", 4),
    ]
    sources, refs = seq2seq.references(entries)
    assert sources == ["tomato", "cat"] and len(refs[0]) == 2
    metrics = seq2seq.seq2seq_metrics(["T AH0 M AA1 T OW2", "K AE1 D"], refs, "space")
    assert metrics["exact"] == 0.5 and metrics["wer"] == 0.5
    assert metrics["per"] == pytest.approx(1 / 9)  # one phoneme wrong of 6 + 3
    (tmp_path / "bad.dict").write_text("cat K AE1 T\ndog\n")
    result = invoke("evaluate", "--model", "no-such-model", "--data", tmp_path / "bad.dict")
    assert result.exit_code == 2 and "no-such-model" in result.output


def test_word_targets_get_word_error_rate_and_bleu():
    refs = [["the cat sat on the mat all day"], ["a dog ran in the park after lunch"]]
    outputs = ["the cat sat on the mat all day", "a cat ran in the park after lunch"]
    metrics = seq2seq.seq2seq_metrics(outputs, refs, "word")
    assert metrics["per"] == metrics["wer"] == pytest.approx(1 / 16)
    assert 0 < metrics["bleu"] < 100 and metrics["exact"] == 0.5


def test_bad_pair_files_exit_2(trained, tmp_path):
    (tmp_path / "notab.tsv").write_text("abc\tcba\nno tab here\n")
    result = invoke("evaluate", "--model", trained["out"], "--data", tmp_path / "notab.tsv")
    assert (
        result.exit_code == 2 and "notab.tsv:2: no tab between source and target" in result.output
    )
    (tmp_path / "bad.dict").write_text("cat K AE1 T\ndog\n")
    result = invoke("evaluate", "--model", trained["out"], "--data", tmp_path / "bad.dict")
    assert result.exit_code == 2 and "bad.dict:2: no pronunciation for 'dog'" in result.output


def test_dates_are_seeded_and_right(tmp_path):
    out = tmp_path / "dates.tsv"
    assert invoke("dates", "--num", 300, "--seed", 4, "--out", out).exit_code == 0
    pairs = seq2seq.read_pairs(out)
    assert len(pairs) == 300 and pairs == seq2seq.read_pairs(out)
    again = tmp_path / "again.tsv"
    invoke("dates", "--num", 300, "--seed", 4, "--out", again)
    assert again.read_text() == out.read_text()
    prefixes = [m[:3].lower() for m in seq2seq.MONTHS]
    for human, iso, _ in pairs:
        date = datetime.date.fromisoformat(iso)
        tokens = [t for t in re.split(r"[\s,./-]+", human.lower()) if t]
        assert str(date.year) in tokens
        numbers = [int(re.match(r"\d+", t).group()) for t in tokens if t[0].isdigit()]
        assert date.day in numbers
        named = [prefixes.index(t[:3]) + 1 for t in tokens if t[:3] in prefixes]
        assert named == [date.month] if named else date.month in numbers
    assert len({h for h, _, _ in pairs}) > 250  # many shapes and dates


@pytest.mark.parametrize("levels", [("char", "char"), ("word", "space")])
def test_records_stream_the_same_batches(tmp_path, levels):
    from pipelines import records

    path = tmp_path / "pairs.tsv"
    path.write_text(reversed_pairs(50, 2) + "Hello, world!\tH EH0 L OW1\n")
    folder = tmp_path / "records"
    records.convert("seq2seq", [path], folder, shards=2)
    pairs = seq2seq.read_pairs(path)
    streamed = seq2seq.StreamedPairs([str(folder)])
    sides = seq2seq.Sides.build(pairs, *levels)
    again = seq2seq.Sides.build(streamed, *levels)
    assert sorted(again.source_vocab.tokens) == sorted(sides.source_vocab.tokens)

    def rows(dataset):
        out = []
        for x, y in dataset:
            for s, t, n in zip(x["source"].numpy(), x["target"].numpy(), y.numpy()):
                out.append((tuple(s[s > 0]), tuple(t[t > 0]), tuple(n[n > 0])))
        return sorted(out)

    from_file = seq2seq.make_dataset(sides, pairs, 8, False)
    assert rows(seq2seq.stream_dataset(sides, streamed, 8, False)) == rows(from_file)


def test_training_from_records(trained, tmp_path):
    from pipelines import records

    folder = tmp_path / "records"
    records.convert("seq2seq", [trained["folder"] / "train.tsv"], folder, shards=2)
    out = tmp_path / "streamed"
    result = invoke(
        "train",
        "--train",
        folder,
        "--dev",
        trained["folder"] / "dev.tsv",
        "--out",
        out,
        "--epochs",
        1,
        "--units",
        8,
        "--embedding-dim",
        8,
    )
    assert result.exit_code == 0, result.output
    assert seq2seq.Sides.load(out).source_level == "char"


def test_input_feeding_trains_predicts_and_exports(tmp_path):
    (tmp_path / "train.tsv").write_text(reversed_pairs(200, 2))
    out, served = tmp_path / "model", tmp_path / "served"
    result = invoke(
        "train",
        "--train",
        tmp_path / "train.tsv",
        "--out",
        out,
        "--epochs",
        2,
        "--units",
        16,
        "--embedding-dim",
        8,
        "--decoder-depth",
        2,
        "--input-feeding",
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["input_feeding"] is True
    texts = ["abc", "fedcba"]
    greedy = lines_of(invoke("predict", "--model", out, "--json", *texts).output)
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    import tensorflow as tf

    outputs = tf.saved_model.load(str(served)).signatures["serving_default"](
        texts=tf.constant(texts)
    )["outputs"]
    assert [o.decode() for o in outputs.numpy()] == [r["output"] for r in greedy]


def test_cmudict_models_read_words_in_any_case(tmp_path):
    words = ["cat", "cab", "tab", "bat", "act", "tact", "back", "tack"] * 5
    (tmp_path / "mini.dict").write_text(
        "".join(f"{w} {' '.join(c.upper() + '1' for c in w)}\n" for w in words)
    )
    out, served = tmp_path / "model", tmp_path / "served"
    args = ["--train", tmp_path / "mini.dict", "--out", out, "--epochs", 1, "--units", 8]
    assert invoke("train", *args).exit_code == 0
    assert json.loads((out / "seq2seq.json").read_text())["lowercase"] is True
    texts = ["cat", "CAT", "Tack"]
    outputs = [
        r["output"] for r in lines_of(invoke("predict", "--model", out, "--json", *texts).output)
    ]
    assert outputs[0] == outputs[1]
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    import tensorflow as tf

    serving = tf.saved_model.load(str(served)).signatures["serving_default"]
    got = serving(texts=tf.constant(texts))["outputs"].numpy()
    assert [o.decode() for o in got] == outputs
