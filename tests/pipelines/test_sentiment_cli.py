"""`python -m pipelines.sentiment` end to end on tiny corpora the test writes itself."""

import gzip
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from pipelines import sentiment
from pipelines.sentiment.__main__ import main as sentiment_main
from pipelines.sentiment.data import read_labelled
from pipelines.sentiment.preprocess import SentimentPreprocessor
from tests import conftest

GOOD = ["great", "wonderful", "superb", "moving"]
BAD = ["awful", "boring", "dull", "terrible"]
FILLER = ["the", "film", "was", "really", "and", "plot", "acting", "a"]


def review(rng, positive, words=8):
    text = [rng.choice(FILLER) for _ in range(words)]
    text.insert(rng.randrange(len(text)), rng.choice(GOOD if positive else BAD))
    return " ".join(text)


def write_csv(path, n, seed):
    rng = random.Random(seed)
    rows = ["review,sentiment"]
    for _ in range(n):
        positive = rng.random() < 0.5
        rows.append(f'"{review(rng, positive)}<br />",{"pos" if positive else "neg"}')
    data = ("\n".join(rows) + "\n").encode()
    path.write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
    return str(path)


def invoke(*args):
    return conftest.invoke(sentiment_main, *args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sentiment")
    train = write_csv(folder / "train.csv.gz", 200, 0)
    dev = write_csv(folder / "dev.csv", 60, 1)
    out = folder / "model"
    result = invoke(
        "train",
        "--train",
        train,
        "--dev",
        dev,
        "--out",
        out,
        "--epochs",
        4,
        "--units",
        8,
        "--learning-rate",
        0.02,
        "--max-tokens",
        6,
        "--min-count",
        1,
    )
    assert result.exit_code == 0, result.output
    return {"folder": folder, "train": train, "dev": dev, "out": out}


def test_learns_the_polar_words(trained):
    metrics = sentiment.load(str(trained["out"])).evaluate(trained["dev"])
    assert metrics["examples"] == 60 and metrics["accuracy"] > 0.7
    assert "macro_f1" not in metrics  # two classes: accuracy only
    card = json.loads((trained["out"] / "card.json").read_text())
    assert card["sizes"]["labels"] == ["neg", "pos"] and card["architecture"]["max_tokens"] == 6
    result = invoke("evaluate", "--model", trained["out"], "--data", trained["dev"], "--json")
    assert json.loads(result.output.strip().splitlines()[-1]) == metrics
    plain = invoke("evaluate", "--model", trained["out"], "--data", trained["dev"]).output
    assert plain.split()[:2] == ["accuracy", f"{metrics['accuracy']:.4f}"]


def test_predict_json(trained):
    first, empty = sentiment.load(str(trained["out"])).predict(["superb superb", ""])
    assert set(first["probabilities"]) == {"neg", "pos"}
    assert first["label"] == max(first["probabilities"], key=first["probabilities"].get)
    assert sum(empty["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    result = invoke("predict", "--model", trained["out"], "--json", "superb superb", "")
    assert [json.loads(line) for line in result.output.strip().splitlines()] == [first, empty]
    plain = invoke("predict", "--model", trained["out"], "superb superb").output.strip()
    assert plain.split("\t") == [
        first["label"],
        f"{max(first['probabilities'].values()):.4f}",
        "superb superb",
    ]


@pytest.mark.parametrize("how", ["head+tail", "head", "tail", "none"])
def test_truncation_keeps_the_ends(how):
    from pipelines.text import Vocabulary

    encoder = SentimentPreprocessor(Vocabulary([]), Vocabulary([], specials=()), 4, how)
    tokens = list("abcdefg")
    expected = {"head+tail": list("abfg"), "head": list("abcd"), "tail": list("defg")}
    assert encoder.cut(tokens) == expected.get(how, tokens)


@pytest.mark.parametrize("how", ["head+tail", "head", "tail", "none"])
def test_graph_ids_match_the_preprocessor(how):
    """The export's token ids (TensorFlow ops) are `SentimentPreprocessor.encode`'s."""
    import tensorflow as tf

    from pipelines.sentiment.export import graph_classifier_ids
    from pipelines.text import Vocabulary

    words = Vocabulary("a b c d e f g h".split())
    labels = Vocabulary(["neg", "pos"], specials=())
    texts = ["a b c d e f g h", "a b", "", "h g f e d c b a x y", "B"]
    for reverse in (False, True):  # a backward classifier reads the kept words last first
        encoder = SentimentPreprocessor(words, labels, 3, how, reverse=reverse)
        graph = graph_classifier_ids(tf.constant(texts), encoder, words.lookup_table()).numpy()
        for row, text in zip(graph, texts):
            expected = encoder.encode(text)
            assert list(row[: len(expected)]) == list(expected) and not row[len(expected) :].any()
    forward = SentimentPreprocessor(words, labels, 3, how).encode("a b c d e")
    assert list(encoder.encode("a b c d e")) == list(forward[::-1])


def test_export_matches_predict_on_long_and_odd_texts(trained, tmp_path):
    texts = [
        "superb",
        "the film was really awful and boring and the plot dull " * 3,
        "",
        "Ça 🙂 1999",
    ]
    served_p = served_probabilities(trained["out"], texts, tmp_path)
    predicted = invoke("predict", "--model", trained["out"], "--json", *texts)
    for row, line in zip(served_p, predicted.output.strip().splitlines()):
        expected = json.loads(line)["probabilities"]
        assert row == pytest.approx([expected["neg"], expected["pos"]], abs=1e-5)


def served_probabilities(model, texts, tmp_path):
    """The probabilities of `model`'s export on `texts`, in a process where `zoo` and
    `pipelines` cannot be imported."""
    served = tmp_path / "served"
    assert invoke("export", "--model", model, "--out", served).exit_code == 0
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["zoo"] = None
        sys.modules["pipelines"] = None
        import tensorflow as tf
        out = tf.saved_model.load({str(served)!r}).signatures["serving_default"](
            texts=tf.constant({texts!r}))
        print(json.dumps(out["probabilities"].numpy().tolist()))
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
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_folder_layout_and_columns(tmp_path):
    for label, text in (("pos", "superb film"), ("neg", "awful film")):
        (tmp_path / "imdb" / label).mkdir(parents=True)
        (tmp_path / "imdb" / label / "0_9.txt").write_text(text + "<br /><br />")
    rows = read_labelled(str(tmp_path / "imdb"))
    assert rows == [("awful film  ", "neg", None), ("superb film  ", "pos", None)]
    (tmp_path / "odd.tsv").write_text("body\tstars\nnice\t5\n")
    assert read_labelled(tmp_path / "odd.tsv", text_column="body", label_column="stars") == [
        ("nice", "5", 2)
    ]


def test_bad_input_exits_2(trained, tmp_path):
    (tmp_path / "nolabel.csv").write_text("text,other\nfine,1\n")
    result = invoke("evaluate", "--model", trained["out"], "--data", tmp_path / "nolabel.csv")
    assert result.exit_code == 2 and "nolabel.csv:1: no label column" in result.output
    (tmp_path / "unseen.csv").write_text("text,label\nfine,pos\nmeh,meh\n")
    result = invoke("evaluate", "--model", trained["out"], "--data", tmp_path / "unseen.csv")
    assert result.exit_code == 2 and "unseen.csv:3: label 'meh' unseen in training" in result.output


def train_word_lm(train, out, *more):
    """A tiny lower-cased word language model of the reviews (`more`: extra options)."""
    from pipelines.lm.__main__ import main as lm_main

    args = ["train", "--train", train, "--level", "word", "--lower", "--tie-embeddings"]
    args += ["--units", 8, "--depth", 1, "--embedding-dim", 8, "--epochs", 1]
    args += ["--batch-size", 4, "--bptt", 10, "--out", out, *more]
    result = CliRunner().invoke(lm_main, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def test_init_from_a_word_language_model_with_label_names(trained, tmp_path):
    lm_out = tmp_path / "lm"
    train_word_lm(trained["train"], lm_out)
    out = tmp_path / "from-lm"
    result = invoke(
        "train",
        "--train",
        trained["train"],
        "--dev",
        trained["dev"],
        "--init",
        lm_out,
        "--label-names",
        "neg=negative, pos=positive",
        "--pooling",
        "last_max_mean",
        "--epochs",
        8,
        "--learning-rate",
        0.02,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "epoch 1: the lowest 2 of 3 levels frozen" in result.output  # gradual unfreezing
    card = json.loads((out / "card.json").read_text())
    assert card["init"]["kind"] == "lm" and card["architecture"]["bidirectional"] is False
    assert (out / "words.txt").read_text() == (lm_out / "vocab.txt").read_text()
    # the data's labels (neg/pos) are read as the names they were given
    result = invoke("evaluate", "--model", out, "--data", trained["dev"], "--json")
    assert json.loads(result.output.strip().splitlines()[-1])["accuracy"] > 0.7
    predicted = json.loads(invoke("predict", "--model", out, "--json", "superb").output)
    assert set(predicted["probabilities"]) == {"negative", "positive"}
    # fine-tuning that classifier on data written the same way keeps its names and its head
    again = tmp_path / "again"
    args = ("--dev", trained["dev"], "--init", out, "--epochs", 1, "--out", again)
    result = invoke("train", "--train", trained["train"], *args)
    assert result.exit_code == 0, result.output
    assert "new output layer" not in result.output
    assert (again / "labels.txt").read_text() == (out / "labels.txt").read_text()
    bad = invoke(
        "train", "--train", trained["train"], "--label-names", "x", "--out", tmp_path / "b"
    )
    assert bad.exit_code == 2 and "LABEL=NAME" in bad.output


def test_backward_classifier_and_an_ensemble_of_two(trained, tmp_path):
    """A classifier from a backward language model reads texts last word first; an ensemble
    folder averages its probabilities with another classifier's in predict, evaluate and the
    export, and names the other rather than copying it."""
    import numpy as np

    lm_out, backward = tmp_path / "lm-backward", tmp_path / "backward"
    train_word_lm(trained["train"], lm_out, "--reverse")
    args = ["--init", lm_out, "--epochs", 4, "--learning-rate", 0.02, "--unfreeze", "all"]
    result = invoke("train", "--train", trained["train"], "--dev", trained["dev"], *args,
                    "--out", backward)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "encoder from the backward language model" in result.output
    reader = sentiment.load(backward).preprocessor
    assert (
        reader.reverse
        and json.loads((backward / "card.json").read_text())["architecture"]["reverse"]
    )
    ids = [reader.words.id(w) for w in ["the", "film", "was", "superb"]]
    assert list(reader.encode("the film was superb")) == ids[::-1]

    both = tmp_path / "both"
    result = invoke("ensemble", "--model", trained["out"], "--with", backward, "--out", both)
    assert result.exit_code == 0, result.output
    assert json.loads((both / "ensemble.json").read_text()) == {"members": [str(backward)]}
    ensemble = sentiment.load(both)
    assert [m.folder for m in ensemble.members] == [str(backward)]
    texts = ["superb film", "the plot was dull and boring", "", "great " * 30]
    alone = [sentiment.load(f).probabilities(texts) for f in (trained["out"], backward)]
    np.testing.assert_allclose(ensemble.probabilities(texts), np.mean(alone, 0), atol=1e-6)
    metrics = json.loads(invoke("evaluate", "--model", both, "--data", trained["dev"],
                                "--json").output.strip().splitlines()[-1])  # fmt: skip
    assert metrics["accuracy"] > 0.7 and metrics["examples"] == 60
    served = served_probabilities(both, texts, tmp_path)
    for row, record in zip(served, ensemble.predict(texts)):
        assert row == pytest.approx([record["probabilities"][k] for k in ("neg", "pos")], abs=1e-5)
    # fine-tuning an ensemble trains its own classifier and says so
    again = tmp_path / "again"
    result = invoke("train", "--train", trained["train"], "--init", both, "--epochs", 1,
                    "--out", again)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "is an ensemble: its own classifier is trained" in result.output
    assert not (again / "ensemble.json").exists()


def test_ensemble_refuses_what_cannot_be_averaged(trained, tmp_path):
    three = tmp_path / "three.csv"
    three.write_text("text,label\n" + "superb,pos\nawful,neg\nfine,meh\n" * 10)
    other = tmp_path / "other"
    args = ["--train", three, "--epochs", 1, "--units", 4, "--min-count", 1, "--out", other]
    assert invoke("train", *args).exit_code == 0
    for model, member, message in (
        (trained["out"], other, "labels meh, neg, pos differ"),
        (trained["out"], trained["out"], "the --model classifier itself"),
        (trained["out"], tmp_path / "nowhere", "no such model"),
    ):
        result = invoke("ensemble", "--model", model, "--with", member, "--out", tmp_path / "e")
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "e").exists()
    (trained["folder"] / "broken").mkdir(exist_ok=True)
    for name in os.listdir(trained["out"]):
        if os.path.isfile(trained["out"] / name):
            (trained["folder"] / "broken" / name).write_bytes((trained["out"] / name).read_bytes())
    (trained["folder"] / "broken" / "ensemble.json").write_text('{"members": ["nowhere"]}')
    result = invoke("predict", "--model", trained["folder"] / "broken", "superb")
    assert result.exit_code == 2 and "no such model" in result.output


def test_init_from_a_classifier_with_new_labels_gets_a_new_head(trained, tmp_path):
    three = tmp_path / "three.csv"
    rng = random.Random(3)
    rows = ["text,label"] + [
        f"{review(rng, label == 'pos')},{label}" for label in ("pos", "neg", "mixed") * 20
    ]
    three.write_text("\n".join(rows) + "\n")
    out = tmp_path / "three-model"
    messages = []
    tuned = sentiment.train(
        str(three), init=str(trained["out"]), epochs=1, out=out, log=messages.append
    )
    assert "new output layer for the labels mixed, neg, pos" in messages
    assert "macro_f1" in tuned.evaluate(str(three))  # more than two classes
    assert (out / "words.txt").read_text() == (trained["out"] / "words.txt").read_text()
    assert tuned.card["init"] == {"model": str(trained["out"]), "kind": "classifier"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--data", "{dir}/unseen.csv"], "unseen.csv:3: label 'meh' unseen"),
        (["train", "--train", "{dir}/unseen.csv", "--out", "{dir}/o", "--dropout", "1.5"], "1.5"),
    ],
)
def test_command_line_errors_are_one_line_on_stderr(trained, tmp_path, args, message):
    (tmp_path / "unseen.csv").write_text("text,label\nfine,pos\nmeh,meh\n")
    args = [a.format(dir=tmp_path) for a in args]
    if args[0] == "evaluate":
        args += ["--model", str(trained["out"])]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.sentiment", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "o").exists()


def test_training_streams_from_records(trained, tmp_path):
    from pipelines.data import records

    folder = tmp_path / "records"
    records.convert("sentiment", [trained["train"]], folder, shards=3)
    out = tmp_path / "streamed"
    result = invoke(
        "train",
        "--train",
        folder,
        "--dev",
        trained["dev"],
        "--out",
        out,
        "--epochs",
        4,
        "--units",
        8,
        "--learning-rate",
        0.02,
        "--min-count",
        1,
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(
        invoke("evaluate", "--model", out, "--data", trained["dev"], "--json").output.splitlines()[
            -1
        ]
    )
    assert metrics["accuracy"] > 0.7
    # the vocabulary streamed from the records equals the one read from the file
    streamed = (out / "words.txt").read_text().split()
    assert set(streamed) >= {"great", "awful", "superb", "boring"}
    mixed = invoke("train", "--train", folder, "--train", trained["train"], "--out", tmp_path / "x")
    assert mixed.exit_code == 2 and "records folders or files" in mixed.output


def test_awd_regularisation_comes_from_the_language_model_or_the_command(trained, tmp_path):
    """ULMFiT fine-tunes its classifier with the LM's weight and embedding dropout: a
    classifier started from an LM keeps them unless the command names others, and so does one
    started from a classifier."""
    from pipelines.lm.__main__ import main as lm_main

    lm_out = tmp_path / "lm"
    result = CliRunner().invoke(
        lm_main,
        ["train", "--train", str(trained["train"]), "--level", "word", "--lower", "--units", "8",
         "--depth", "1", "--embedding-dim", "8", "--epochs", "1", "--batch-size", "4",
         "--bptt", "10", "--weight-dropout", "0.3", "--embedding-dropout", "0.1",
         "--out", str(lm_out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    common = ["train", "--train", trained["train"], "--dev", trained["dev"], "--epochs", 1]
    result = invoke(*common, "--init", lm_out, "--out", tmp_path / "inherits")
    assert result.exit_code == 0, result.output
    model = sentiment.load(str(tmp_path / "inherits")).model
    assert model.weight_dropout == 0.3 and model.embedding_dropout == 0.1
    assert model.encoder.layers[0].cell.weight_dropout == 0.3
    assert model.embedding.embedding_dropout == 0.1
    result = invoke(*common, "--init", lm_out, "--weight-dropout", 0.5, "--out", tmp_path / "set")
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "set" / "card.json").read_text())
    assert card["architecture"]["weight_dropout"] == 0.5
    assert card["architecture"]["embedding_dropout"] == 0.1
    result = invoke(
        *common, "--init", tmp_path / "set", "--embedding-dropout", 0.2, "--out", tmp_path / "c"
    )
    assert result.exit_code == 0, result.output
    tuned = sentiment.load(str(tmp_path / "c")).model
    assert tuned.weight_dropout == 0.5 and tuned.embedding_dropout == 0.2
    # inference is deterministic whatever the training regularisation
    probabilities = [sentiment.load(str(tmp_path / "c")).probabilities(["superb"]) for _ in "ab"]
    assert (probabilities[0] == probabilities[1]).all()
