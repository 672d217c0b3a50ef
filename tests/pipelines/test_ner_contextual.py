"""`pipelines.ner` with contextual string embeddings (`--char-lm`): the tagger reads a forward
and a backward character language model's states, through the library, the command line and
the export."""

import json
import subprocess
import sys

import numpy as np
import pytest

from pipelines import lm, ner
from pipelines.errors import BadSetting
from pipelines.ner.contextual import ContextualEncoder, document_contexts, sentence_string
from tests import conftest


@pytest.fixture(scope="module")
def language_models(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("char-lms")
    text = folder / "text.txt"
    sentences = [line.split(" ")[0] for line in open(tiny["ner"], encoding="utf-8") if line.strip()]
    text.write_text(" ".join(sentences) + "\n" + open(tiny["lm"]).read())
    common = dict(units=12, depth=1, embedding_dim=8, batch_size=4, bptt=20, epochs=1)
    quiet = lambda message: None  # noqa: E731
    lm.train(str(text), out=str(folder / "forward"), log=quiet, **common)
    lm.train(str(text), out=str(folder / "backward"), log=quiet, reverse=True, **common)
    return str(folder / "forward"), str(folder / "backward")


def test_sentence_strings_and_word_edges():
    string, starts, ends = sentence_string(["Ola", "Berg", "left", "."])
    assert string == "\nOla Berg left .\n"
    assert [string[s : e + 1] for s, e in zip(starts, ends)] == ["Ola", "Berg", "left", "."]


def test_document_contexts_are_the_text_around_each_sentence_in_its_document():
    sentences = [["A", "b"], ["Cc", "."], ["D"], ["E", "f", "."]]
    assert document_contexts(sentences, [0, 0, 0, 1], 100) == [
        ("", "Cc .\nD"),
        ("A b", "D"),
        ("A b\nCc .", ""),
        ("", ""),
    ]
    assert document_contexts(sentences, [0, 0, 0, 1], 3) == [
        ("", "Cc "),
        ("A b", "D"),
        ("c .", ""),
        ("", ""),
    ]
    # a document's sentences need not be next to each other, only in order
    assert document_contexts(sentences, ["x", "y", "x", "y"], 100)[0] == ("", "D")
    assert document_contexts(sentences, [0, 0, 0, 1], 0) == [("", "")] * 4


def test_encoder_checks_its_language_models(language_models):
    forward, backward = language_models
    encoder = ContextualEncoder([forward, backward])
    assert encoder.dim == 24
    vectors = encoder.embed([["Ola", "Berg"], [], ["Paris"]])
    assert [v.shape for v in vectors] == [(2, 24), (0, 24), (1, 24)]
    alone = encoder.embed([["Paris"]])[0]
    np.testing.assert_allclose(vectors[2], alone, atol=1e-5)
    encoder.remember([["Ola", "Berg"]])

    def not_again(inputs):
        raise AssertionError("a remembered sentence ran through the language models again")

    compiled, encoder._compiled = encoder._compiled, not_again
    np.testing.assert_allclose(encoder.embed([["Ola", "Berg"]])[0], vectors[0], atol=1e-5)
    encoder._compiled = compiled
    with pytest.raises(BadSetting, match="backward"):
        ContextualEncoder([forward, forward])
    with pytest.raises(BadSetting, match="forward"):
        ContextualEncoder([backward])


def test_document_context_reaches_each_model_from_its_own_side(language_models):
    encoder = ContextualEncoder(language_models, context=40)
    sentences = [["Ola", "Berg"], ["Paris"], ["Ken", "Ito", "left"]]
    alone = encoder.embed(sentences)
    assert encoder.contexts(sentences, None) is None
    contexts = encoder.contexts(sentences, [0, 0, 0])
    assert contexts[1] == ("Ola Berg", "Ken Ito left")
    read = encoder.embed(sentences, contexts=contexts)
    one = encoder.embed([sentences[1]], contexts=[contexts[1]])[0]
    np.testing.assert_allclose(read[1], one, atol=1e-5)  # alone or in a batch, the same
    half = encoder.layer.forward_lm.units
    np.testing.assert_allclose(read[0][:, :half], alone[0][:, :half], atol=1e-5)  # nothing before
    np.testing.assert_allclose(read[2][:, half:], alone[2][:, half:], atol=1e-5)  # nothing after
    assert not np.allclose(read[0][:, half:], alone[0][:, half:], atol=1e-4)
    assert not np.allclose(read[2][:, :half], alone[2][:, :half], atol=1e-4)
    encoder.remember(sentences[1:2], contexts[1:2])  # with its context only, not alone
    np.testing.assert_allclose(encoder.embed(sentences[1:2])[0], alone[1], atol=1e-5)
    with pytest.raises(BadSetting, match="below 0"):
        ContextualEncoder(language_models, context=-1)


def test_tagger_with_char_lms_trains_predicts_exports_and_fine_tunes(
    tiny, language_models, tmp_path
):
    forward, backward = language_models
    out = tmp_path / "tagger"
    main = __import__("pipelines.ner.__main__", fromlist=["main"]).main
    args = ["train", "--train", tiny["ner"], "--dev", tiny["ner_dev"], "--out", out]
    args += ["--char-lm", f"{forward},{backward}", "--epochs", 2, "--units", 8]
    result = conftest.invoke(main, *args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "contextual.json").read_text())["char_lms"] == [forward, backward]
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"]["contextual_dim"] == 24 and card["char_lms"][0]["model"] == forward
    tagger = ner.load(str(out))
    texts = ["Anna Smith visited Paris", "Oslo", "", "Ken Ito left Lima"]
    records = tagger.predict(texts)
    assert records[1]["tokens"] == ["Oslo"] and records[2]["tokens"] == []
    assert tagger.evaluate(tiny["ner_dev"])["f1"] >= 0.0
    served = tmp_path / "served"
    ner.load(str(out)).export(str(served))  # just loaded: its language models never ran
    import tensorflow as tf

    exported = tf.saved_model.load(str(served)).signatures["serving_default"](
        texts=tf.constant(texts)
    )
    for i, record in enumerate(records):
        n = int(exported["lengths"][i])
        assert [t.decode() for t in exported["tags"].numpy()[i][:n]] == record["tags"]
        np.testing.assert_allclose(
            exported["scores"].numpy()[i][:n],
            [e for e in _token_scores(tagger, record)],
            atol=1e-4,
        )
    script = (
        "import json, sys; sys.modules['zoo'] = None; sys.modules['pipelines'] = None\n"
        "import tensorflow as tf\n"
        f"f = tf.saved_model.load({str(served)!r}).signatures['serving_default']\n"
        f"tags = f(texts=tf.constant({texts!r}))['tags'].numpy().tolist()\n"
        "print(json.dumps(tags, default=bytes.decode))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    alone = json.loads(run.stdout.strip().splitlines()[-1])
    assert [row[: len(r["tags"])] for row, r in zip(alone, records)] == [r["tags"] for r in records]
    tuned = ner.train(
        tiny["ner_dev"], out=str(tmp_path / "tuned"), init=str(out), epochs=1, log=lambda m: None
    )
    assert tuned.preprocessor.contextual.names == [forward, backward]
    assert tuned.model.contextual_dim == 24
    with pytest.raises(BadSetting, match="keeps its own"):
        ner.train(tiny["ner"], out=str(tmp_path / "x"), init=str(out), char_lm=forward)


def _token_scores(tagger, record):
    from pipelines.ner.inference import tag_batch

    return tag_batch(tagger.model, tagger.preprocessor, [record["tokens"]])[0][1] or []


def test_a_tagger_reading_document_context_trains_on_it_and_exports_it(
    tiny, language_models, tmp_path, monkeypatch
):
    import tensorflow as tf

    from pipelines.ner.inference import tag_texts

    seen = []
    embed = ContextualEncoder.embed

    def spy(self, token_lists, *args, contexts=None, **kwargs):
        seen.extend(contexts or [])
        return embed(self, token_lists, *args, contexts=contexts, **kwargs)

    monkeypatch.setattr(ContextualEncoder, "embed", spy)
    out = tmp_path / "tagger"
    quiet = lambda message: None  # noqa: E731
    common = dict(epochs=1, units=8, log=quiet, char_lm=",".join(language_models))
    tagger = ner.train(tiny["ner"], dev=tiny["ner_dev"], out=str(out), char_lm_context=30, **common)
    assert sum(before != "" for before, _ in seen) > 60  # training and dev sentences, in context
    assert json.loads((out / "contextual.json").read_text())["context"] == 30
    assert json.loads((out / "card.json").read_text())["char_lm_context"] == 30
    texts = ["Anna Smith visited Paris . Ken Ito left Lima .", "Oslo", "", "Ken Ito left ."]
    tagged = tag_texts(
        tagger.model, tagger.preprocessor, [r["tokens"] for r in tagger.predict(texts)], True
    )
    tagger.export(str(tmp_path / "served"))
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    exported = served(texts=tf.constant(texts))
    for i, (tags, scores) in enumerate(tagged):
        n = int(exported["lengths"][i])
        assert [t.decode() for t in exported["tags"].numpy()[i][:n]] == tags
        np.testing.assert_allclose(exported["scores"].numpy()[i][:n], scores, atol=1e-4)
    alone = ner.train(tiny["ner"], dev=tiny["ner_dev"], out=str(tmp_path / "alone"), **common)
    assert alone.preprocessor.contextual.context == ner.CHAR_LM_CONTEXT
    with pytest.raises(BadSetting, match="needs --char-lm"):
        ner.train(tiny["ner"], out=str(tmp_path / "x"), epochs=1, char_lm_context=10)
    with pytest.raises(BadSetting, match="keeps its own context"):
        ner.train(tiny["ner"], out=str(tmp_path / "x"), init=str(out), char_lm_context=10)


def test_char_lm_context_on_the_command_line(tiny, tmp_path):
    main = __import__("pipelines.ner.__main__", fromlist=["main"]).main
    assert "--char-lm-context" in conftest.invoke(main, "train", "--help").output
    args = ["train", "--train", tiny["ner"], "--out", tmp_path / "x", "--char-lm-context"]
    below = conftest.invoke(main, *args, "-1")
    assert below.exit_code == 2 and "-1" in below.output
    alone = conftest.invoke(main, *args, "5")
    assert alone.exit_code == 2 and "needs --char-lm" in alone.output
    assert not (tmp_path / "x").exists()
