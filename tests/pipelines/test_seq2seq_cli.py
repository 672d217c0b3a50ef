"""`python -m pipelines.seq2seq` end to end on tiny data the test writes itself."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pipelines import seq2seq
from pipelines.seq2seq import data as s2s_data
from pipelines.seq2seq import dates as s2s_dates
from pipelines.seq2seq import decoding
from pipelines.seq2seq.__main__ import main as seq2seq_main
from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor
from tests import conftest


def invoke(*args):
    return conftest.invoke(seq2seq_main, *args)


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
    metrics = seq2seq.load(str(trained["out"])).evaluate(str(trained["folder"] / "dev.tsv"))
    assert set(metrics) == {"wer", "per", "exact", "examples"}  # chars: no BLEU
    assert metrics["exact"] > 0.8 and metrics["wer"] == pytest.approx(1 - metrics["exact"])
    result = invoke(
        "evaluate", "--model", trained["out"], "--data", trained["folder"] / "dev.tsv", "--json"
    )
    assert lines_of(result.output)[-1] == metrics
    card = json.loads((trained["out"] / "card.json").read_text())
    assert card["beam"] == 2 and Seq2SeqPreprocessor.load(trained["out"]).beam == 2  # default
    assert card["architecture"]["source_level"] == "char" and card["task"] == "seq2seq"
    # --average 3: the mean of the last epochs' weights was evaluated after every epoch
    history = json.loads((trained["out"] / "history.json").read_text())
    assert "dev_avg_wer" not in history[0] and all("dev_avg_wer" in h for h in history[1:])
    assert "best_averaged" in card


def test_predict_greedy_and_beam_and_plot(trained, tmp_path):
    model = seq2seq.load(str(trained["out"]))
    greedy = model.predict(["abcd", "fed"], beam=1)
    assert [r["output"] for r in greedy] == ["dcba", "def"]
    assert all(r["score"] <= 0 for r in greedy)
    (beam,) = model.predict(["abcd"], beam=3)
    assert beam["output"] == "dcba" and beam["score"] >= greedy[0]["score"] - 1e-4
    png = tmp_path / "attention.png"
    result = invoke(
        "predict",
        "--model",
        trained["out"],
        "--json",
        "--beam",
        1,
        "abcd",
        "fed",
        "--plot-attention",
        png,
    )
    assert lines_of(result.output) == greedy and png.stat().st_size > 1000
    plain = invoke("predict", "--model", trained["out"], "--beam", 1, "abcd").output.strip()
    assert plain == f"abcd\tdcba\t{greedy[0]['score']:.4f}"


def serve_without_zoo(served, texts, cwd):
    """(outputs, scores) of an exported seq2seq SavedModel, loaded by a process that can
    import neither zoo nor pipelines."""
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
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=""),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_export_decodes_inside_the_graph(trained, tmp_path):
    texts = ["abcd", "fed", "", "zz"]
    served = tmp_path / "served"
    assert invoke("export", "--model", trained["out"], "--out", served).exit_code == 0
    outputs, scores = serve_without_zoo(served, texts, tmp_path)
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
    entries = s2s_data.read_cmudict(path)
    assert entries == [
        ("tomato", "T AH0 M EY1 T OW2", 2),
        ("tomato", "T AH0 M AA1 T OW2", 3),
        ("cat", "K AE1 T", 4),
    ]
    sources, refs = s2s_data.references(entries)
    assert sources == ["tomato", "cat"] and len(refs[0]) == 2
    metrics = decoding.seq2seq_metrics(["T AH0 M AA1 T OW2", "K AE1 D"], refs, "space")
    assert metrics["exact"] == 0.5 and metrics["wer"] == 0.5
    assert metrics["per"] == pytest.approx(1 / 9)  # one phoneme wrong of 6 + 3
    (tmp_path / "bad.dict").write_text("cat K AE1 T\ndog\n")
    result = invoke("evaluate", "--model", "no-such-model", "--data", tmp_path / "bad.dict")
    assert result.exit_code == 2 and "no-such-model" in result.output


def test_word_targets_get_word_error_rate_and_bleu():
    refs = [["the cat sat on the mat all day"], ["a dog ran in the park after lunch"]]
    outputs = ["the cat sat on the mat all day", "a cat ran in the park after lunch"]
    metrics = decoding.seq2seq_metrics(outputs, refs, "word")
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
    pairs = s2s_data.read_pairs(out)
    assert len(pairs) == 300 and pairs == s2s_data.read_pairs(out)
    again = tmp_path / "again.tsv"
    invoke("dates", "--num", 300, "--seed", 4, "--out", again)
    assert again.read_text() == out.read_text()
    prefixes = [m[:3].lower() for m in s2s_dates.MONTHS]
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
    from pipelines.data import records

    path = tmp_path / "pairs.tsv"
    path.write_text(reversed_pairs(50, 2) + "Hello, world!\tH EH0 L OW1\n")
    folder = tmp_path / "records"
    records.convert("seq2seq", [path], folder, shards=2)
    pairs = s2s_data.read_pairs(path)
    streamed = s2s_data.StreamedPairs([str(folder)])
    sides = Seq2SeqPreprocessor.build(pairs, *levels)
    again = Seq2SeqPreprocessor.build(streamed, *levels)
    assert sorted(again.source_vocab.tokens) == sorted(sides.source_vocab.tokens)

    def rows(dataset):
        out = []
        for x, y in dataset:
            for s, t, n in zip(x["source"].numpy(), x["target"].numpy(), y.numpy()):
                out.append((tuple(s[s > 0]), tuple(t[t > 0]), tuple(n[n > 0])))
        return sorted(out)

    from_file = s2s_data.make_dataset(sides, pairs, 8, False)
    assert rows(s2s_data.stream_dataset(sides, streamed, 8, False)) == rows(from_file)


def test_training_from_records(trained, tmp_path):
    from pipelines.data import records

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
    assert Seq2SeqPreprocessor.load(out).source_level == "char"


def test_input_feeding_and_label_smoothing_train_predict_and_export(tmp_path):
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
        "--label-smoothing",
        0.1,
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["input_feeding"] is True
    assert card["architecture"]["label_smoothing"] == 0.1
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


@pytest.fixture(scope="module")
def right_to_left(trained):
    """A second model of the same task trained with --reverse-targets."""
    folder = trained["folder"]
    out = folder / "rtl"
    args = ["--train", folder / "train.tsv", "--out", out, "--epochs", 12, "--units", 32]
    args += ["--embedding-dim", 16, "--learning-rate", 0.01, "--dropout", 0.0]
    assert invoke("train", *args, "--reverse-targets").exit_code == 0
    return out


def test_reverse_targets_are_written_backwards_and_read_forwards(trained, right_to_left):
    sides = Seq2SeqPreprocessor.load(right_to_left)
    assert (
        sides.reverse_targets
        and json.loads((right_to_left / "seq2seq.json").read_text())["reverse_targets"]
    )
    ids = sides.encode_target("dcba")
    assert [sides.target_vocab.token(int(i)) for i in ids] == list("abcd")
    assert sides.decode(ids) == "dcba"
    found = lines_of(invoke("predict", "--model", right_to_left, "--json", "abcd", "fed").output)
    assert [r["output"] for r in found] == ["dcba", "def"]
    served = trained["folder"] / "rtl-served"
    assert invoke("export", "--model", right_to_left, "--out", served).exit_code == 0
    outputs, _ = serve_without_zoo(served, ["abcd", "fed"], trained["folder"])
    assert outputs == ["dcba", "def"]


def test_sequence_scores_match_the_decoders_scores(trained):
    from pipelines.seq2seq.rerank import sequence_scores

    loaded = seq2seq.load(trained["out"])
    model, sides = loaded.model, loaded.preprocessor
    texts = ["abcd", "fed", "cab", "eeeee"]
    for beam in (1, 3):
        decoded = decoding.decode(model, sides, texts, beam)
        scores = sequence_scores(model, sides, texts, [out for out, _ in decoded])
        assert scores == pytest.approx([score for _, score in decoded], abs=1e-4)


def test_analogy_prefers_the_neighbours_reading():
    from pipelines.seq2seq.rerank import Lexicon, analogy, choose, tune

    lexicon = Lexicon(
        [
            ("optimal", "AA1 P T AH0 M AH0 L"),
            ("optimum", "AA1 P T AH0 M AH0 M"),
            ("fatima", "F AE1 TH IH0 M AH0"),
            ("op", "AA1 P"),  # shares only 2 characters with "optima": no neighbour
        ]
    )
    assert lexicon.neighbours("optima", 4) == [(6, "optimal"), (5, "optimum")]
    assert lexicon.neighbours("optima", 4, from_end=True) == [(4, "fatima")]
    assert lexicon.neighbours("optimal", 4) == [(5, "optimum")]  # never itself
    split = str.split
    right, wrong = "AA1 P T AH0 M AH0".split(), "AA1 P T IH0 M AH0".split()
    # prefix: (shared characters / 6) times the tokens agreeing, per neighbour; suffix: "amit"
    assert analogy(right, "optima", lexicon, 4, split) == pytest.approx([6 + 5, 4 / 6 * 2])
    assert analogy(wrong, "optima", lexicon, 4, split) == pytest.approx([3 + 5 / 6 * 3, 4 / 6 * 3])
    # tuning: the network prefers the wrong reading a little; the prefix feature overrules it
    rows = [[[-0.1, 0.0, 6.0, 2.0, -9.0], [-0.3, 0.0, 12.0, 1.3, -9.0]], [[-0.1, 0, 1, 0, -9]] * 2]
    correct = [[False, True], [True, False]]
    weights = tune(rows, correct)
    assert weights[0] == 1.0 and [choose(r, weights) for r in rows] == [1, 0]
    assert tune(rows[1:], correct[1:]).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # nothing to gain


def test_bagged_weights_are_the_mean_of_tunings_on_resamples():
    from pipelines.seq2seq.rerank import choose, tune, tune_bagged, two_fold_choices

    rng = np.random.default_rng(1)
    rows = [rng.normal(size=(3, 5)).tolist() for _ in range(40)]
    correct = [[bool(x) for x in rng.integers(0, 2, 3)] for _ in range(40)]
    assert tune_bagged(rows, correct).tolist() == tune(rows, correct).tolist()  # 1 bag: tune
    resamples = np.random.default_rng(3)
    tunings = []
    for _ in range(5):
        picked = resamples.integers(40, size=40)
        tunings.append(tune([rows[i] for i in picked], [correct[i] for i in picked]))
    bagged = tune_bagged(rows, correct, bags=5, seed=3)
    assert bagged.tolist() == pytest.approx(np.mean(tunings, axis=0), abs=5e-5)
    assert bagged[0] == 1.0 and len(set(map(tuple, tunings))) > 1  # the resamples disagree
    assert tune_bagged([], [], bags=5).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # nothing to tune
    # two-fold: each input chosen by the weights tuned on the other half
    chosen = two_fold_choices(rows, correct, bags=2)
    odd = tune_bagged(rows[1::2], correct[1::2], bags=2)
    assert chosen[0::2] == [choose(r, odd) for r in rows[0::2]]


def test_rerank_writes_a_model_with_lexicon_and_rescorer(trained, right_to_left, tmp_path):
    folder, out = trained["folder"], tmp_path / "reranked"
    (folder / "lexicon.tsv").write_text("abcd\tdcba\nbeef\tfeeb\nzz\tyy\n")  # zz: a made-up answer
    args = ["--model", trained["out"], "--lexicon", folder / "lexicon.tsv", "--out", out]
    dev = ["--dev", folder / "dev.tsv", "--graphone-order", 3]
    result = invoke("rerank", *args, *dev, "--rescorer", right_to_left)
    assert result.exit_code == 0, result.output
    report = lines_of(result.output)[-1]
    sources, _ = s2s_data.references(s2s_data.read_pairs(folder / "dev.tsv"))
    assert report["examples"] == len(sources) and report["weights"]["score"] == 1.0
    assert report["wer_oracle"] <= report["wer_reranked"] <= report["wer_network"] + 1e-9
    settings = json.loads((out / "seq2seq.json").read_text())
    assert settings["beam"] == 4 and set(settings["rerank"]["weights"]) == {
        "score",
        "rescorer",
        "prefix",
        "suffix",
        "joint",
    }
    assert settings["rerank"]["graphone_order"] == 3
    for name in ("lexicon.tsv.gz", "graphones.tsv.gz", "rescorer/model.keras"):
        assert (out / name).exists()
    graphones = seq2seq.load(str(out)).preprocessor.reranker.graphones  # counted when needed
    assert graphones.order == 3
    assert graphones.logprob("abcd", list("dcba")) > graphones.logprob("abcd", list("dcbb"))
    shutil.copytree(out, tmp_path / "broken")
    (tmp_path / "broken" / "graphones.tsv.gz").unlink()
    result = invoke("predict", "--model", tmp_path / "broken", "fed")
    assert result.exit_code == 2 and "graphones.tsv.gz: missing" in result.output
    metrics = lines_of(
        invoke("evaluate", "--model", out, "--data", folder / "dev.tsv", "--json").output
    )[-1]
    assert metrics["wer"] == pytest.approx(report["wer_reranked"])
    assert metrics["per"] == pytest.approx(report["per_reranked"])
    assert 0 <= report["per_reranked_two_fold"] <= 1 and "per_no_stress_network" not in report
    texts = ["zz", "abcd", "fed"]
    found = lines_of(invoke("predict", "--model", out, "--json", *texts).output)
    assert found[0] == {"input": "zz", "output": "yy", "score": 0.0, "source": "lexicon"}
    assert [r["source"] for r in found[1:]] == ["lexicon", "network"]  # abcd: a training pair
    (folder / "more.tsv").write_text("zz\tyy\nzz\txx\n")  # zz listed twice: an alternate
    both = ["--model", out, "--lexicon", folder / "more.tsv", "--dev", folder / "dev.tsv"]
    assert invoke("rerank", *both, "--out", tmp_path / "alternates").exit_code == 0
    listed = seq2seq.load(str(tmp_path / "alternates")).predict(["zz", "fed"], alternates=True)
    assert listed[0]["output"] == "yy" and listed[0]["alternates"] == ["yy", "xx"]
    assert listed[1]["alternates"] == [listed[1]["output"]]
    shown = invoke("predict", "--model", tmp_path / "alternates", "--all", "zz").output
    assert shown.splitlines()[-1] == "zz\txx\t(alternate)"
    plain = invoke("predict", "--model", out, "--json", "--network-only", "--beam", 2, *texts)
    original = invoke("predict", "--model", trained["out"], "--json", "--beam", 2, *texts)
    assert lines_of(plain.output) == lines_of(original.output)  # the network alone
    served = tmp_path / "served"
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    outputs, scores = serve_without_zoo(served, texts, tmp_path)
    greedy = lines_of(
        invoke("predict", "--model", trained["out"], "--json", "--beam", 1, "fed").output
    )
    assert outputs == ["yy", "dcba", greedy[0]["output"]] and scores[:2] == [0.0, 0.0]
    (folder / "bad.tsv").write_text("abc\tcba\nno tab\n")
    result = invoke(
        "rerank",
        *args[:2],
        "--lexicon",
        folder / "bad.tsv",
        "--out",
        tmp_path / "x",
        "--dev",
        folder / "dev.tsv",
    )
    assert result.exit_code == 2 and "bad.tsv:2" in result.output
    assert not (tmp_path / "x").exists()


def test_rerank_with_a_rescorer_alone(trained, right_to_left, tmp_path):
    folder, out = trained["folder"], tmp_path / "rescored"
    args = ["--model", trained["out"], "--dev", folder / "dev.tsv", "--beam", 3, "--out", out]
    result = invoke("rerank", *args, "--rescorer", right_to_left)
    report = lines_of(result.output)[-1]
    assert report["listed_in_lexicon"] == 0 and report["weights"]["prefix"] == 0.0
    assert not (out / "lexicon.tsv.gz").exists() and (out / "rescorer").is_dir()
    metrics = lines_of(
        invoke("evaluate", "--model", out, "--data", folder / "dev.tsv", "--json").output
    )[-1]
    assert metrics["wer"] == pytest.approx(report["wer_reranked"])
    result = invoke("rerank", *args[:4], "--out", tmp_path / "neither")
    assert result.exit_code == 2 and "--lexicon, --rescorer or both" in result.output
    result = invoke("rerank", *args, "--rescorer", right_to_left, "--graphone-order", 6)
    assert result.exit_code == 2 and "--graphone-order needs --lexicon" in result.output


def test_inflections_are_learned_from_the_lexicons_own_pairs():
    from pipelines.seq2seq.inflections import Inflections
    from pipelines.seq2seq.rerank import Lexicon

    lexicon = Lexicon(
        [
            ("horse", "HH AO1 R S"),
            ("horse's", "HH AO1 R S IH0 Z"),
            ("house", "HH AW1 S"),
            ("house's", "HH AW1 S IH0 Z"),
            ("nurse", "N ER1 S"),  # "nurse's": not listed, made as the pairs above make theirs
            ("cat", "K AE1 T"),
            ("cat's", "K AE1 T S"),
            ("bat", "B AE1 T"),
            ("bat's", "B AE1 T S"),
            ("hat", "HH AE1 T"),
            ("hat's", "HH AE1 T Z"),  # "t" + "'s": S twice, Z once: S has the majority
            ("rat", "R AE1 T"),
            ("dog", "D AO1 G"),
            ("dog's", "D AO1 G Z"),
            ("log", "L AO1 G"),
            ("log's", "L AO1 G IH0 Z"),
            ("cog", "K AA1 G"),
            ("cog's", "K AA1 G S"),  # "g" + "'s": three changes, none made by half the pairs
            ("fog", "F AA1 G"),
            ("toscanini's", "T AA2 S K AH0 N IY1 N IY0 Z"),
            ("bellini's", "B EH0 L IY1 N IY0 Z"),
            ("bellini", "B EH0 L IY1 N IY0"),
            ("ox", "AA1 K S"),
            ("ox's", "AA1 K S IH0 Z"),
            ("blue", "B L UW1"),
            ("blue's", "B L UW1 Z"),
            ("glue", "G L UW1"),
            ("glue's", "G L UW1 Z"),
            ("clue", "K L UW1"),
            ("clue's", "K L UW1 Z"),
            ("sage's", "S EY1 JH IH0 Z"),  # "sage": taken off as from "horse's", not "blue's"
            ("father", "F AA1 DH ER0"),
            ("father's", "F AA1 DH ER0 Z"),
            ("either", "IY1 DH ER0"),
            ("either", "AY1 DH ER0"),
        ]
    )
    inflections = Inflections(lexicon, "space", suffixes=["'s", "s", "'s"], bases=["'s"])
    assert inflections.settings() == {"suffixes": ["s", "'s"], "bases": ["'s"]}
    assert inflections.get("nurse's") == "N ER1 S IH0 Z"
    assert inflections.get("rat's") == "R AE1 T S"
    assert inflections.get("fog's") is None  # the network decides
    assert inflections.get("toscanini") == "T AA2 S K AH0 N IY1 N IY0"  # from the longer word
    assert inflections.get("sage") == "S EY1 JH"
    assert inflections.get_all("either's") == ["IY1 DH ER0 Z", "AY1 DH ER0 Z"]  # alternates too
    assert inflections.get_all("fog's") == [] and inflections.get_all("either") == []
    assert inflections.get("unknown's") is None and inflections.get("nurses") is None
    assert inflections.get("x's") is None  # a stem of one character is no stem
    keys, values = inflections.table(inflections.added)
    assert values[keys.index("'s\tS\te")] == "0\tIH0 Z"


def test_rerank_inflections_answer_in_predict_and_export(trained, right_to_left, tmp_path):
    folder, out = trained["folder"], tmp_path / "inflected"
    pairs = ["abc\tXZ", "abcd\tXZQ", "bbc\tYZ", "bbcd\tYZQ", "cbc\tWZ", "cbc\tUZ", "ebcd\tVZQ"]
    (folder / "inflected.tsv").write_text("".join(p + "\n" for p in pairs))
    args = ["--model", trained["out"], "--lexicon", folder / "inflected.tsv", "--out", out]
    dev = folder / "dev-inflected.tsv"  # the dev pairs, two inflections and a listed word
    dev.write_text((folder / "dev.tsv").read_text() + "cbcd\tWZQ\nebc\tVZ\nabcd\tXZQ\n")
    args += ["--dev", dev, "--inflect", "d", "--uninflect", "d", "--bags", 3]
    result = invoke("rerank", *args)
    assert result.exit_code == 0, result.output
    report = lines_of(result.output)[-1]
    sources, _ = s2s_data.references(s2s_data.read_pairs(dev))
    answered = [r["source"] for r in seq2seq.load(str(out)).predict(sources)]
    assert report["answered_by_inflections"] == answered.count("inflection") >= 2
    assert report["listed_in_lexicon"] == answered.count("lexicon") >= 1
    settings = json.loads((out / "seq2seq.json").read_text())
    assert settings["rerank"]["inflections"] == {"suffixes": ["d"], "bases": ["d"]}
    texts = ["cbcd", "ebc", "abcd", "fed", "CBCD", "dd"]
    found = lines_of(invoke("predict", "--model", out, "--json", *texts).output)
    assert [r["output"] for r in found[:3]] == ["WZQ", "VZ", "XZQ"]
    assert [r["score"] for r in found[:3]] == [0.0, 0.0, 0.0]
    sources = ["inflection", "inflection", "lexicon", "network", "network", "network"]
    assert [r["source"] for r in found] == sources
    listed = seq2seq.load(str(out)).predict(["cbcd", "fed"], alternates=True)
    assert listed[0]["alternates"] == ["WZQ", "UZQ"]  # as the stem's listed targets make them
    assert listed[1]["alternates"] == [listed[1]["output"]]
    served = tmp_path / "served"
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    outputs, scores = serve_without_zoo(served, texts, tmp_path)
    assert outputs == [r["output"] for r in found]
    assert scores[:3] == [0.0, 0.0, 0.0]
    result = invoke(
        "rerank",
        *args[:2],
        *args[6:8],
        "--rescorer",
        right_to_left,
        "--inflect",
        "d",
        "--out",
        tmp_path / "x",
    )
    assert result.exit_code == 2 and "need --lexicon" in result.output


def test_stress_free_metrics_for_arpabet_targets():
    metrics = decoding.seq2seq_metrics(
        ["K AE1 T", "D AO2 G", "B ER1 D"], [["K AE1 T"], ["D AO1 G"], ["B IH1 R D"]], "space"
    )
    assert metrics["wer"] == pytest.approx(2 / 3) and metrics["per"] == pytest.approx(3 / 10)
    assert metrics["wer_no_stress"] == pytest.approx(1 / 3)
    assert metrics["per_no_stress"] == pytest.approx(2 / 10)
    assert "wer_no_stress" not in decoding.seq2seq_metrics(["abc"], [["abd"]], "char")
    assert "wer_no_stress" not in decoding.seq2seq_metrics(["a b"], [["a b"]], "space")


def test_a_date_model_says_whether_its_outputs_are_dates(tmp_path):
    from pipelines.seq2seq.dates import is_iso_date

    assert is_iso_date("2020-02-29") and not is_iso_date("2021-02-29")
    assert not is_iso_date("2020-13-01") and not is_iso_date("20-01-01")
    records = seq2seq.load("dates").predict(["31 February 2020", "3 May 1979", ""])
    assert [r["valid"] for r in records] == [False, True, False]
    assert records[0]["output"] == "2020-02-31" and records[1]["output"] == "1979-05-03"
    result = invoke("predict", "--model", "dates", "31 February 2020")
    assert result.output.rstrip("\n").endswith("\tnot a calendar date")
    assert "valid" not in seq2seq.load().predict(["cat"])[0]


def test_an_ensemble_decodes_reranks_and_exports(trained, right_to_left, tmp_path):
    folder, model = trained["folder"], trained["out"]
    args = ["--train", folder / "train.tsv", "--out", tmp_path / "second", "--epochs", 4]
    args += ["--units", 32, "--embedding-dim", 16, "--learning-rate", 0.01, "--seed", 1]
    assert invoke("train", *args).exit_code == 0
    out = tmp_path / "ensemble"
    result = invoke("ensemble", "--model", model, "--with", tmp_path / "second", "--out", out)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["class"] == "zoo.models.Seq2SeqEnsemble"
    assert [m["model"] for m in card["members"]] == [str(model), str(tmp_path / "second")]
    texts = ["abcd", "fed", "", "zz"]
    for beam in (1, 2):
        records = lines_of(
            invoke("predict", "--model", out, "--json", "--beam", beam, *texts).output
        )
        assert [r["input"] for r in records] == texts and records[2]["output"] == ""
    served = tmp_path / "served"
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    greedy = lines_of(invoke("predict", "--model", out, "--json", "--beam", 1, *texts).output)
    outputs, scores = serve_without_zoo(served, texts, tmp_path)
    assert outputs == [r["output"] for r in greedy]
    assert scores == pytest.approx([r["score"] for r in greedy], abs=1e-4)
    # a model twice decodes as the model alone, in float16 as in float32 here
    twice = seq2seq.make_ensemble(str(model), [str(model)], tmp_path / "twice", float16=True)
    alone = seq2seq.load(str(model))
    assert [r["output"] for r in twice.predict(texts, beam=2)] == [
        r["output"] for r in alone.predict(texts, beam=2)
    ]
    # reranking takes an ensemble's network like any other
    (tmp_path / "lexicon.tsv").write_text("abcd\tdcba\n")
    rerank = ["--model", out, "--lexicon", tmp_path / "lexicon.tsv", "--out", tmp_path / "rr"]
    result = invoke("rerank", *rerank, "--dev", folder / "dev.tsv")
    assert result.exit_code == 0, result.output
    assert seq2seq.load(str(tmp_path / "rr")).predict(["abcd"])[0]["output"] == "dcba"


def test_bad_ensembles_and_training_an_ensemble_exit_2(trained, right_to_left, tmp_path):
    model = trained["out"]
    result = invoke("ensemble", "--model", model, "--with", right_to_left, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "reverse_targets differ" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
    seq2seq.make_ensemble(str(model), [str(model)], tmp_path / "twice")
    folder = trained["folder"]
    args = ["--train", folder / "train.tsv", "--out", tmp_path / "y", "--init", tmp_path / "twice"]
    result = invoke("train", *args, "--epochs", 1)
    assert result.exit_code == 2 and "start from a member" in result.output
