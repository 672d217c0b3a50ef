"""`python -m pipelines.lm` end to end on tiny corpora the test writes itself."""

import itertools
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pipelines import lm
from pipelines.lm import data as lm_data
from pipelines.lm import inference
from pipelines.lm.__main__ import main as lm_main
from pipelines.lm.preprocess import LMPreprocessor
from tests import conftest

NAMES = ["Aardonyx", "Abelisaurus", "Achelousaurus", "Brachiosaurus", "Tyrannosaurus", "Raptor"]


def invoke(*args):
    return conftest.invoke(lm_main, *args)


def lines_of(output):
    return [line for line in output.strip().splitlines() if line]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    (folder / "names.txt").write_text("\n".join(NAMES * 10) + "\n")
    (folder / "play.txt").write_text("To be, or not to be, that is the question.\n" * 60)
    names = folder / "names-lm"
    result = invoke(
        "train",
        "--train",
        folder / "names.txt",
        "--format",
        "lines",
        "--out",
        names,
        "--epochs",
        3,
        "--units",
        16,
        "--depth",
        1,
        "--batch-size",
        8,
        "--learning-rate",
        0.02,
    )
    assert result.exit_code == 0, result.output
    play = folder / "play-lm"
    result = invoke(
        "train",
        "--train",
        folder / "play.txt",
        "--dev",
        folder / "play.txt",
        "--out",
        play,
        "--epochs",
        2,
        "--units",
        16,
        "--depth",
        2,
        "--batch-size",
        4,
        "--bptt",
        20,
        "--learning-rate",
        0.02,
    )
    assert result.exit_code == 0, result.output
    return {"folder": folder, "names": names, "play": play, "play_output": result.output}


def test_model_folders(models):
    for name in ("names", "play"):
        assert {"model.keras", "vocab.txt", "lm.json", "card.json"} <= set(os.listdir(models[name]))
    card = json.loads((models["play"] / "card.json").read_text())
    assert card["architecture"]["format"] == "text" and card["architecture"]["bptt"] == 20
    assert "nats_per_token" in card["dev_metrics"]


def test_evaluate_reports_nats_bits_and_perplexity(models):
    metrics = lm.load(str(models["play"])).evaluate(str(models["folder"] / "play.txt"))
    assert metrics["bits_per_token"] == pytest.approx(metrics["nats_per_token"] / math.log(2))
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["nats_per_token"]))
    assert metrics["tokens"] == len("To be, or not to be, that is the question.\n" * 60) - 1
    assert metrics["nats_per_token"] < math.log(20)  # learned something about this text
    result = invoke(
        "evaluate", "--model", models["play"], "--data", models["folder"] / "play.txt", "--json"
    )
    assert json.loads(lines_of(result.output)[-1]) == metrics
    plain = invoke("evaluate", "--model", models["play"], "--data", models["folder"] / "play.txt")
    assert f"{metrics['nats_per_token']:.4f} nats/char" in plain.output


def test_samples_are_reproducible_and_never_unknown(models):
    names = lm.load(str(models["names"]))
    first = names.sample(num=5, seed=3, length=30)
    assert first == names.sample(num=5, seed=3, length=30) and len(first) == 5
    assert not any("<UNK>" in s or "<BOS>" in s for s in first)
    assert names.sample(num=5, seed=4, length=30) != first
    play = lm.load(str(models["play"]))
    assert play.sample(prompt="To be", length=10)[0].startswith("To be")
    (record,) = play.predict(["To be"], length=5)
    assert record["text"] == "To be" and 0 < len(record["continuation"]) <= 5
    args = ["sample", "--model", models["names"], "--num", 5, "--seed", 3, "--length", 30]
    result = invoke(*args)
    assert result.exit_code == 0 and lines_of(result.output) == first
    continued = invoke("predict", "--model", models["play"], "--json", "To be", "--length", 5)
    assert json.loads(lines_of(continued.output)[-1]) == record


def test_score_prefers_the_familiar_text(models):
    familiar, odd = lm.load(str(models["names"])).score(["Tyrannosaurus", "Xqzzkwv"])
    assert familiar["log_prob"] > odd["log_prob"]
    assert familiar["tokens"] == len("Tyrannosaurus") + 1  # the characters and <EOS>
    assert familiar["log_prob"] == pytest.approx(sum(familiar["token_log_probs"]), abs=1e-3)
    result = invoke("score", "--model", models["names"], "--json", "Tyrannosaurus", "Xqzzkwv")
    assert [json.loads(line) for line in lines_of(result.output)] == [familiar, odd]


def test_texts_are_arguments_or_an_input_file_not_both(models, tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("Tyrannosaurus\nXqzzkwv\n", encoding="utf-8")
    from_file = invoke("score", "--model", models["names"], "--json", "--input", path)
    assert [json.loads(line)["text"] for line in lines_of(from_file.stdout)] == [
        "Tyrannosaurus",
        "Xqzzkwv",
    ]
    # an argument is a text even where it names a file; stderr says how to read the file
    named = invoke("score", "--model", models["names"], "--json", path)
    assert named.exit_code == 0
    assert json.loads(named.stdout)["text"] == str(path)
    assert f"--input {path} reads the file" in named.stderr
    both = invoke("score", "--model", models["names"], "--input", path, "Tyrannosaurus")
    assert both.exit_code == 2
    assert "not both" in both.output and "Traceback" not in both.output


def test_export_scores_and_generates_with_tensorflow_alone(models, tmp_path):
    served = tmp_path / "served"
    assert invoke("export", "--model", models["names"], "--out", served).exit_code == 0
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["zoo"] = None
        sys.modules["pipelines"] = None
        import tensorflow as tf
        loaded = tf.saved_model.load({str(served)!r})
        texts = tf.constant(["Tyrannosaurus", "Raptor"])
        scored = loaded.signatures["serving_default"](texts=texts)
        sample = loaded.signatures["generate"](
            prompt=tf.constant("Tyr"), length=tf.constant(20), temperature=tf.constant(0.5))
        print(json.dumps({{"log_prob": scored["log_prob"].numpy().tolist(),
                          "text": sample["text"].numpy().decode()}}))
        """
    )
    env = dict(os.environ, PYTHONPATH="")
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    served_result = json.loads(run.stdout.strip().splitlines()[-1])
    scored = invoke("score", "--model", models["names"], "--json", "Tyrannosaurus", "Raptor")
    expected = [json.loads(line)["log_prob"] for line in lines_of(scored.output)]
    assert served_result["log_prob"] == pytest.approx(expected, abs=1e-3)
    assert len(served_result["text"]) <= 20 and "<UNK>" not in served_result["text"]


def test_missing_corpus_exits_2(tmp_path):
    result = invoke("train", "--train", tmp_path / "missing.txt", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "missing.txt: no such file" in result.output
    assert not (tmp_path / "out").exists()


def test_word_level_keeps_the_top_words_and_ends_lines(models, tmp_path):
    corpus = tmp_path / "words.txt"
    corpus.write_text(
        "the cat sat on the mat .\nthe dog sat on the log .\na rare zebra ran .\n" * 20
    )
    out = tmp_path / "word-lm"
    result = invoke(
        "train",
        "--train",
        corpus,
        "--level",
        "word",
        "--max-vocab",
        12,
        "--out",
        out,
        "--epochs",
        2,
        "--units",
        8,
        "--depth",
        1,
        "--batch-size",
        2,
        "--bptt",
        10,
    )
    assert result.exit_code == 0, result.output
    tokens = LMPreprocessor.load(out)
    assert len(tokens.vocab) == 12 and "zebra" not in tokens.vocab  # <UNK> stands for it
    stream = tokens.stream("the cat sat .\nthe zebra")
    assert list(stream) == [
        tokens.vocab.bos_id,
        *tokens.vocab.encode(["the", "cat", "sat", "."]),
        tokens.vocab.eos_id,
        tokens.vocab.id("the"),
        tokens.vocab.unk_id,
        tokens.vocab.eos_id,
    ]
    sampled = invoke("sample", "--model", out, "--num", 3, "--length", 8, "--seed", 1)
    assert sampled.exit_code == 0 and "<UNK>" not in sampled.output
    scored = invoke("score", "--model", out, "--json", "the cat sat on the mat .")
    assert json.loads(lines_of(scored.output)[-1])["tokens"] == 7


def test_lower_cased_tied_word_model_from_a_table_exports(tmp_path):
    table = tmp_path / "reviews.csv"
    rows = ["text,label"] + ['"The cat sat on the mat, in 1999.",1', "A DOG sat on a log.,0"] * 30
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "lower-lm"
    args = ["--level", "word", "--lower", "--tie-embeddings", "--units", 8, "--depth", 1]
    args += ["--embedding-dim", 4, "--epochs", 2, "--batch-size", 2, "--bptt", 10]
    result = invoke("train", "--train", table, *args, "--out", out)
    assert result.exit_code == 0, result.output
    tokens = LMPreprocessor.load(out)
    assert tokens.lower and "the" in tokens.vocab and "The" not in tokens.vocab
    assert "0000" in tokens.vocab and "text" not in tokens.vocab  # digits folded, no header
    texts = ["The CAT sat in 2001.", "a dog sat on a mat"]
    scored = invoke("score", "--model", out, "--json", *texts, "the cat sat in 0000 .")
    first, second, folded = [json.loads(line)["log_prob"] for line in lines_of(scored.output)]
    assert first == pytest.approx(folded, abs=1e-5)
    served = tmp_path / "served"
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["zoo"] = None
        sys.modules["pipelines"] = None
        import tensorflow as tf
        loaded = tf.saved_model.load({str(served)!r})
        out = loaded.signatures["serving_default"](texts=tf.constant({texts!r}))
        print(json.dumps(out["log_prob"].numpy().tolist()))
        """
    )
    env = dict(os.environ, PYTHONPATH="")
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == pytest.approx(
        [first, second], abs=1e-3
    )


def test_training_streams_from_records(tmp_path):
    from pipelines.data import records

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"the cat number {i % 7} sat on the mat .\n" for i in range(900)))
    folder = tmp_path / "records"
    records.convert("lm", [corpus], folder, shards=2)
    streamed = lm_data.StreamedText([str(folder)])
    for level in ("char", "word"):
        whole = LMPreprocessor.build(corpus.read_text(), level, "text")
        assert sorted(LMPreprocessor.build(streamed, level, "text").vocab.tokens) == sorted(
            whole.vocab.tokens
        )
    tokens = LMPreprocessor.build(corpus.read_text(), "word", "text")
    windows = list(lm_data.records_windows(tokens, streamed, 4, 10, seed=0).as_numpy_iterator())
    x, y = windows[0]
    assert x.shape == (4, 10) and (x[:, 0] == tokens.vocab.bos_id).all()
    for (x1, y1), (x2, _) in zip(windows, windows[1:]):
        assert (y1[:, :-1] == x1[:, 1:]).all() and (y1[:, -1] == x2[:, 0]).all()
    out = tmp_path / "streamed-lm"
    args = ["--level", "word", "--units", 8, "--depth", 1, "--epochs", 1, "--batch-size", 4]
    result = invoke("train", "--train", folder, *args, "--bptt", 10, "--out", out)
    assert result.exit_code == 0, result.output
    assert LMPreprocessor.load(out).level == "word"


def test_endless_stream_resumes_at_the_window_it_left():
    ids = np.arange(1000, dtype="int32")
    full = list(itertools.islice(lm_data.stream_windows(ids, 4, 10, 7, endless=True), 60))
    later = list(
        itertools.islice(lm_data.stream_windows(ids, 4, 10, 7, start=37, endless=True), 23)
    )
    assert len(full) == 60  # more than one pass (24 windows a pass)
    for (x, y), (x2, y2) in zip(full[37:], later):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    first_pass = list(lm_data.stream_windows(ids, 4, 10, 7))
    for (x, _), (x2, _) in zip(first_pass, full):
        np.testing.assert_array_equal(x, x2)
    # consecutive windows continue each row: truncated BPTT
    np.testing.assert_array_equal(full[1][0][:, 0], full[0][0][:, -1] + 1)


def test_backward_model_reads_right_to_left(tmp_path):
    corpus = tmp_path / "play.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 60)
    out = tmp_path / "backward"
    common = ["--train", corpus, "--dev", corpus, "--out", out, "--units", 16, "--depth", 1]
    common += ["--batch-size", 4, "--bptt", 20, "--learning-rate", 0.02, "--reverse"]
    assert invoke("train", *common, "--epochs", 1, "--steps-per-epoch", 15).exit_code == 0
    assert json.loads((out / "lm.json").read_text())["reverse"] is True
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["reverse"] and card["architecture"]["steps_per_epoch"] == 15
    loaded = lm.load(str(out))
    model, tokens = loaded.model, loaded.preprocessor
    assert tokens.pieces("abc") == ["c", "b", "a"] and tokens.join(["c", "b", "a"]) == "abc"
    scored = inference.score_texts(model, tokens, ["question."])[0]
    ids = np.asarray([tokens.vocab.bos_id] + tokens.vocab.encode(list(".noitseuq")), "int32")
    expected = inference.sequence_log_probs(model, [ids])[0]
    assert scored["log_prob"] == pytest.approx(float(expected.sum()), abs=1e-4)
    sampled = invoke("sample", "--model", out, "--prompt", "question.", "--length", 12)
    assert sampled.output.rstrip("\n").endswith("question.")
    served = tmp_path / "served"
    assert invoke("export", "--model", out, "--out", served).exit_code == 0
    import tensorflow as tf

    loaded = tf.saved_model.load(str(served))
    result = loaded.signatures["serving_default"](texts=tf.constant(["question."]))
    assert float(result["log_prob"][0]) == pytest.approx(scored["log_prob"], abs=1e-3)


def test_steps_per_epoch_needs_a_text_corpus(tmp_path):
    corpus = tmp_path / "names.txt"
    corpus.write_text("\n".join(NAMES * 10) + "\n")
    result = invoke(
        "train",
        "--train",
        corpus,
        "--format",
        "lines",
        "--steps-per-epoch",
        3,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 2 and "--steps-per-epoch" in result.output


def test_a_sample_of_a_text_model_starts_on_a_new_line():
    """A model of continuous text met `<BOS>` once, at its corpus's start, and line breaks
    everywhere: sampling primes it with both, then the prompt (a `lines` model: `<BOS>`)."""
    from pipelines.lm.preprocess import LMPreprocessor

    text = LMPreprocessor.build("ab\ncd\n", "char", "text")
    assert text.primer("ab") == [text.vocab.bos_id, text.vocab.id("\n"), *text.vocab.encode("ab")]
    backward = LMPreprocessor.build("ab\ncd\n", "char", "text", reverse=True)
    assert backward.primer("ab") == [
        backward.vocab.bos_id,
        backward.vocab.id("\n"),
        *backward.vocab.encode("ba"),
    ]
    lines = LMPreprocessor.build("ab\ncd\n", "char", "lines")
    assert lines.primer("ab") == [lines.vocab.bos_id, *lines.vocab.encode("ab")]
    words = LMPreprocessor.build("a b\nc d\n", "word", "text")
    assert words.primer("a") == [words.vocab.bos_id, words.vocab.id("a")]


def test_awd_regularisation_options_reach_the_model(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20, encoding="utf-8")
    out = tmp_path / "awd"
    result = invoke(
        "train", "--train", text, "--out", out, "--level", "word", "--epochs", 1,
        "--units", 8, "--depth", 2, "--embedding-dim", 6, "--batch-size", 2, "--bptt", 5,
        "--locked-dropout", "--weight-dropout", 0.5, "--embedding-dropout", 0.1,
        "--tie-embeddings",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = lm.load(str(out)).model
    assert model.locked_dropout and model.weight_dropout == 0.5
    assert model.embedding_dropout == 0.1 and model.rnns[1].cell.weight_dropout == 0.5
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["weight_dropout"] == 0.5
    # --init keeps the model's regularisation unless the command names another
    kept, changed = tmp_path / "kept", tmp_path / "changed"
    common = ["train", "--train", text, "--init", out, "--epochs", 1, "--batch-size", 2]
    common += ["--bptt", 5]
    assert invoke(*common, "--out", kept).exit_code == 0
    model = lm.load(str(kept)).model
    assert model.locked_dropout and model.weight_dropout == 0.5
    assert model.embedding_dropout == 0.1 and model.dropout == 0.2
    result = invoke(*common, "--out", changed, "--weight-dropout", 0.3, "--dropout", 0.1)
    assert result.exit_code == 0, result.output
    assert "weight_dropout 0.5 -> 0.3" in result.output
    model = lm.load(str(changed)).model
    assert model.weight_dropout == 0.3 and model.dropout == 0.1 and model.locked_dropout
    assert model.rnns[1].cell.weight_dropout == 0.3
    # --reverse on a forward model: a backward model from its weights; --init keeps a direction
    backward, again = tmp_path / "backward", tmp_path / "again"
    result = invoke(*common, "--out", backward, "--reverse")
    assert result.exit_code == 0, result.output
    assert "a backward model started from the forward model" in result.output
    assert json.loads((backward / "lm.json").read_text())["reverse"] is True
    assert json.loads((kept / "lm.json").read_text()).get("reverse", False) is False
    result = invoke("train", "--train", text, "--init", backward, "--epochs", 1,
                    "--batch-size", 2, "--bptt", 5, "--out", again)  # fmt: skip
    assert result.exit_code == 0 and json.loads((again / "lm.json").read_text())["reverse"]


def test_slanted_triangular_rates():
    from pipelines.training import SlantedTriangular

    schedule = SlantedTriangular(0.01, steps_per_epoch=50, epochs=2, cut_frac=0.1, ratio=32)
    rates = [schedule.rate(t) for t in range(100)]
    assert rates[0] == pytest.approx(0.01 / 32)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 10
    assert all(a < b for a, b in zip(rates[:10], rates[1:11]))  # a short rise
    assert all(a > b for a, b in zip(rates[10:99], rates[11:]))  # a long fall
    assert rates[-1] == pytest.approx(0.01 * (1 + (1 - 89 / 90) * 31) / 32)


def test_slanted_schedule_trains_and_needs_steps_per_epoch(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("abc abd abe\n" * 60, encoding="utf-8")
    common = ["train", "--train", text, "--units", 8, "--depth", 1, "--batch-size", 2]
    common += ["--bptt", 10, "--lr-schedule", "slanted"]
    result = invoke(*common, "--out", tmp_path / "no")
    assert result.exit_code == 2 and "--steps-per-epoch" in result.output
    out = tmp_path / "lm"
    result = invoke(*common, "--out", out, "--steps-per-epoch", 5, "--epochs", 2)
    assert result.exit_code == 0, result.output
    history = json.loads((out / "history.json").read_text())
    rates = [epoch["learning_rate"] for epoch in history]
    # T = 10 steps, cut = 1: the rates set before steps 4 and 9 (each epoch's last)
    expected = [0.002 * (1 + p * 31) / 32 for p in (1 - 3 / 9, 1 - 8 / 9)]
    np.testing.assert_allclose(rates, expected, rtol=1e-4)
