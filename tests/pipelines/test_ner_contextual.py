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
from pipelines.ner.contextual import ContextualEncoder, sentence_string
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
