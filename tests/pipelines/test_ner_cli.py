"""`python -m pipelines.ner` end to end on a tiny corpus the test writes itself."""

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from pipelines import ner
from pipelines.errors import BadSetting
from pipelines.ner import data as ner_data
from pipelines.ner.__main__ import main as ner_main
from pipelines.ner.consistency import consistent
from pipelines.ner.data import read_tagged
from pipelines.ner.inference import evaluate_tags, tag_batch
from pipelines.ner.preprocess import NERPreprocessor
from tests import conftest

PEOPLE = ["Anna Smith", "John Brown", "Maria Lopez", "Ken Ito", "Ola Berg"]
PLACES = ["Paris", "Berlin", "Oslo", "Lima", "Kyoto"]
VERBS = ["visited", "left", "saw", "loves"]


def write_corpus(path, sentences=60, seed=0, extra_type=None):
    """`PER verb LOC .` sentences in CoNLL-2003 layout (word POS chunk tag), IOB2."""
    rng = random.Random(seed)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(sentences):
        first, last = rng.choice(PEOPLE).split()
        lines += [f"{first} NNP B-NP B-PER", f"{last} NNP I-NP I-PER"]
        lines += [f"{rng.choice(VERBS)} VBD B-VP O", f"{rng.choice(PLACES)} NNP B-NP B-LOC"]
        if extra_type:
            lines += ["with X X O", f"Acme X X B-{extra_type}"]
        lines += [". . O O", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def invoke(*args):
    return conftest.invoke(ner_main, *args)


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ner")
    train = write_corpus(folder / "train.conll", 60, seed=0)
    dev = write_corpus(folder / "dev.conll", 20, seed=1)
    out = folder / "model"
    rows = [f"{w} " + " ".join(["0.1"] * 100) for w in ["Anna", "Paris", "unseen-word"]]
    (folder / "vectors.txt").write_text("3 100\n" + "\n".join(rows) + "\n")
    result = invoke(
        "train",
        "--vectors",
        folder / "vectors.txt",
        "--train",
        train,
        "--dev",
        dev,
        "--out",
        out,
        "--epochs",
        3,
        "--units",
        8,
        "--learning-rate",
        0.02,
        "--batch-size",
        8,
    )
    assert result.exit_code == 0, result.output
    return {"folder": folder, "train": train, "dev": dev, "out": out, "output": result.output}


def test_train_writes_a_complete_model_folder(trained):
    out = trained["out"]
    assert {"model.keras", "words.txt", "chars.txt", "tags.txt", "card.json", "history.png"} <= set(
        os.listdir(out)
    )
    assert not os.path.exists(f"{out}.partial")
    summary = last_json(trained["output"])
    assert summary["replicas"] == 1 and summary["epochs"] == 3
    card = json.loads((out / "card.json").read_text())
    assert card["task"] == "ner" and card["command"].startswith("python -m pipelines.ner train")
    assert card["data"]["train"][0]["sha256"] and card["dev_metrics"]["f1"] == summary["dev"]["f1"]
    assert "Epoch 1/3" in trained["output"]
    assert "word vectors for 3 of" in trained["output"] and card["vectors"]["sha256"]
    assert "unseen-word" in NERPreprocessor.load(out).words  # words with vectors are kept


def test_evaluate_reports_entity_metrics(trained):
    tagger = ner.load(str(trained["out"]))
    metrics = tagger.evaluate(trained["dev"])
    assert set(metrics["per_type"]) == {"LOC", "PER"}
    assert metrics["f1"] > 0.5  # an easy corpus; three epochs learn most of it
    # training's dev F1 tags each sentence alone; evaluate adds label consistency (within each
    # sentence here: the file has no -DOCSTART- lines)
    alone = tagger.evaluate(trained["dev"], consistency=False)
    assert alone["f1"] == pytest.approx(last_json(trained["output"])["dev"]["f1"])
    sentences = read_tagged(trained["dev"])
    tagged = [t for t, _ in tag_batch(tagger.model, tagger.preprocessor, [w for w, _ in sentences])]
    consistent_tags = [consistent([w], [t])[0] for (w, _), t in zip(sentences, tagged)]
    assert metrics == evaluate_tags([t for _, t in sentences], consistent_tags)
    result = invoke("evaluate", "--model", trained["out"], "--data", trained["dev"], "--json")
    assert result.exit_code == 0 and last_json(result.output) == metrics
    table = invoke("evaluate", "--model", trained["out"], "--data", trained["dev"]).output
    assert table.splitlines()[0].split() == ["type", "precision", "recall", "f1", "support"]
    assert table.splitlines()[-1].startswith("overall")


def test_predict_makes_each_text_consistent(trained):
    texts = ["Anna Smith visited Oslo. Smith loves Oslo and Lima, Lima and Anna Smith .", "Lima"]
    tagger = ner.load(str(trained["out"]))
    alone, records = tagger.predict(texts, consistency=False), tagger.predict(texts)
    for before, after in zip(alone, records):
        assert after["tags"] == consistent([before["tokens"]], [before["tags"]])[0]
    result = invoke("predict", "--model", trained["out"], "--no-consistency", "--json", *texts)
    assert [json.loads(line) for line in result.output.strip().splitlines()] == alone


def test_predict_offsets_point_into_the_text(trained):
    texts = ["Anna Smith visited Oslo.", "", "Ken  Ito loves Lima ."]
    records = ner.load(str(trained["out"])).predict(texts)
    assert [r["text"] for r in records] == texts
    assert records[1] == {"text": "", "tokens": [], "tags": [], "entities": []}
    for record in records:
        assert len(record["tokens"]) == len(record["tags"])
        for entity in record["entities"]:
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]
            assert 0 <= entity["score"] <= 1
    result = invoke("predict", "--model", trained["out"], "--json", *texts)
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.strip().splitlines()] == records
    plain = invoke("predict", "--model", trained["out"], texts[0])
    assert plain.output.strip().replace("[", "").replace("]PER", "").replace("]LOC", "") == texts[0]


def test_predict_tags_a_long_text_and_reads_an_input_file(trained, tmp_path):
    long_text = " ".join(["Anna Smith visited Oslo and"] * 400)  # 2,000 tokens, no sentence end
    (record,) = ner.load(str(trained["out"])).predict([long_text])
    assert len(record["tokens"]) == 2000 and record["entities"]
    for entity in record["entities"]:
        assert long_text[entity["start"] : entity["end"]] == entity["text"]
    path = tmp_path / "texts.txt"
    path.write_text("Ola Berg left Kyoto.\n\nOslo\n", encoding="utf-8")
    result = invoke("predict", "--model", trained["out"], "--input", path, "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [r["text"] for r in lines] == ["Ola Berg left Kyoto.", "", "Oslo"]


def served_tags(served, texts, cwd):
    """The tags the SavedModel `served` gives `texts`, run in a process where neither `zoo`
    nor `pipelines` can be imported."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["zoo"] = None
        sys.modules["pipelines"] = None
        import tensorflow as tf
        outputs = tf.saved_model.load({str(served)!r}).signatures["serving_default"](
            texts=tf.constant({texts!r}))
        n = outputs["lengths"].numpy()
        print(json.dumps([[t.decode() for t in row[:k]]
                          for row, k in zip(outputs["tags"].numpy(), n)]))
        """
    )
    env = dict(os.environ, PYTHONPATH="")
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_export_runs_with_tensorflow_alone(trained, tmp_path):
    # several sentences in a text: tagged piece by piece and made consistent, as predict does
    texts = ["Anna Smith visited Oslo.", "Maria Lopez saw Berlin . Lopez loves Berlin !", ""]
    served = tmp_path / "served"
    assert invoke("export", "--model", trained["out"], "--out", served).exit_code == 0
    predicted = invoke("predict", "--model", trained["out"], "--json", *texts)
    assert served_tags(served, texts, tmp_path) == [
        json.loads(line)["tags"] for line in predicted.output.strip().splitlines()
    ]


def test_init_fine_tunes_with_a_new_tag_set(trained, tmp_path):
    train = write_corpus(tmp_path / "new.conll", 20, seed=2, extra_type="ORG")
    messages = []
    tuned = ner.train(
        train,
        dev=train,
        out=tmp_path / "tuned",
        init=str(trained["out"]),
        epochs=2,
        freeze_encoder_epochs=1,
        batch_size=8,
        log=messages.append,
    )
    old, new = NERPreprocessor.load(trained["out"]), tuned.preprocessor
    assert new.words.tokens[: len(old.words)] == old.words.tokens  # known words keep their ids
    assert "Acme" in new.words and "B-ORG" in new.tags
    assert any("new tag head" in m and "started from the old tags" in m for m in messages)
    assert any("lowest 1 of 2 levels frozen" in m for m in messages)  # epoch 1: head only
    assert tuned.card["init"] == str(trained["out"])


def test_a_new_tag_head_starts_from_the_old_tags_it_corresponds_to():
    import numpy as np

    from pipelines.ner.model import mapped_head, tag_correspondence

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(6, 4)), rng.normal(size=4)
    transitions, start, end = rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=4)
    # new tags 1, 2, 3, 4 are always predicted as old 3, 1, 2, 2
    pairs = [(1, 3), (2, 1), (3, 2), (4, 2)] * 5
    p = tag_correspondence(pairs, 5, 4, prior=0.0)
    assert p.tolist() == np.eye(4)[[0, 3, 1, 2, 2]].tolist()
    new_kernel, new_bias = mapped_head("tag_scores", [kernel, bias], p)
    assert np.allclose(new_kernel, kernel[:, [0, 3, 1, 2, 2]])
    assert np.allclose(new_bias, bias[[0, 3, 1, 2, 2]])
    new_transitions, new_start, new_end = mapped_head("crf", [transitions, start, end], p)
    assert np.allclose(new_transitions, transitions[[0, 3, 1, 2, 2]][:, [0, 3, 1, 2, 2]])
    assert np.allclose(new_start, start[[0, 3, 1, 2, 2]])
    assert np.allclose(new_end, end[[0, 3, 1, 2, 2]])
    smoothed = tag_correspondence([(1, 3)], 3, 4)  # tag 2 never seen: the prior alone
    assert np.allclose(smoothed.sum(axis=1), 1.0)
    assert np.allclose(smoothed[2], [0, 1 / 3, 1 / 3, 1 / 3])


def test_the_entity_bias_is_fitted_on_dev_and_saved_in_the_model(trained):
    import numpy as np

    from pipelines.ner.inference import (
        ENTITY_BIASES,
        evaluate_model,
        fit_entity_bias,
        lower_o_score,
    )

    card = json.loads((trained["out"] / "card.json").read_text())
    fitted = card["calibration"]
    assert fitted["fitted_on_dev"] and fitted["entity_bias"] in ENTITY_BIASES
    assert f"entity bias {fitted['entity_bias']:g} (fitted on dev): dev F1" in trained["output"]
    assert card["dev_metrics"] == fitted["dev"] == last_json(trained["output"])["dev"]

    tagger = ner.load(str(trained["out"]))
    model, vocabs = tagger.model, tagger.preprocessor
    dev = ner_data.read_tagged(trained["dev"])
    best, table = fit_entity_bias(model, vocabs, dev)  # the saved model: its bias already in
    assert best == 0.0 and set(table) == set(ENTITY_BIASES)
    assert table[0.0]["f1"] == pytest.approx(fitted["dev"]["f1"])
    assert len({round(m["precision"], 6) for m in table.values()}) > 1  # the bias matters
    o = vocabs.tags.tokens.index("O")
    before = model.get_layer("tag_scores").get_weights()[1]
    for bias in (4.0, -1.0):  # decoding shifted scores = decoding with the shifted model
        lower_o_score(model, vocabs, bias)
        shifted = model.get_layer("tag_scores").get_weights()[1]
        assert np.allclose(before - shifted, np.eye(len(before))[o] * bias)
        assert evaluate_model(model, vocabs, dev) == table[bias]
        lower_o_score(model, vocabs, -bias)


def test_an_entity_bias_given_is_applied_and_a_bad_one_exits_2(trained, tmp_path):
    import numpy as np

    from pipelines.task import TrainingData

    common = ["--train", trained["train"], "--epochs", 1, "--units", 8, "--batch-size", 8]
    bad = invoke("train", *common, "--entity-bias", "lots", "--out", tmp_path / "bad")
    assert bad.exit_code == 2 and "--entity-bias" in bad.output and "'lots'" in bad.output
    assert "Traceback" not in bad.output and not os.path.exists(tmp_path / "bad")
    for value in ("nan", "inf", None):
        with pytest.raises(BadSetting, match="finite number"):
            ner.NERSettings(entity_bias=value)

    tagger = ner.load(str(trained["out"]))
    model, vocabs = tagger.model, tagger.preprocessor
    sentences = ner_data.read_tagged(trained["train"])
    dev = ner_data.read_tagged(trained["dev"])
    before = model.get_layer("tag_scores").get_weights()[1]
    messages = []
    given = ner.Tagger.calibrate(
        model,
        vocabs,
        TrainingData(sentences, dev),
        ner.NERSettings(entity_bias="1.5"),
        messages.append,
    )
    assert given["entity_bias"] == 1.5 and not given["fitted_on_dev"]
    assert messages[0].startswith("entity bias 1.5 (given): dev F1")
    assert given["dev"] == {k: tagger.evaluate(trained["dev"])[k] for k in given["dev"]}
    after = model.get_layer("tag_scores").get_weights()[1]
    assert np.allclose(before - after, np.eye(len(before))[vocabs.tags.id("O")] * 1.5)
    for bias in ("auto", 0):  # nothing to fit without dev data; 0 leaves the scores alone
        settings = ner.NERSettings(entity_bias=bias)
        assert ner.Tagger.calibrate(model, vocabs, TrainingData(sentences), settings, print) is None
    assert np.allclose(model.get_layer("tag_scores").get_weights()[1], after)


def test_unknown_words_are_looked_up_in_other_cases_alike_in_python_and_in_the_graph():
    import tensorflow as tf

    from pipelines.text import Vocabulary

    vocabs = NERPreprocessor(
        Vocabulary(["Trump", "the", "Émile", "0000", "iPhone", "TRUMP"]),
        Vocabulary(["a"]),
        Vocabulary(["O"], specials=("<PAD>",)),
    )
    tokens = ["trump", "TRUMP", "Trump", "THE", "ÉMILE", "émile", "1996", "IPHONE", "iPhone", "x"]
    expected = ["Trump", "TRUMP", "Trump", "the", "Émile", "Émile", "0000", None, "iPhone", None]
    ids = [vocabs.words.id(w) if w else vocabs.words.unk_id for w in expected]
    assert [vocabs.word_id(t) for t in tokens] == ids
    assert vocabs.encode(tokens)["words"].tolist() == ids
    graph = vocabs.graph_word_ids(tf.constant(tokens), vocabs.words.lookup_table())
    assert graph.numpy().tolist() == ids


def test_a_new_word_starts_from_another_case_of_a_known_word():
    import numpy as np

    from pipelines.ner.model import _start_from_other_forms
    from pipelines.text import Vocabulary

    old = Vocabulary(["Trump", "the"])
    new = Vocabulary(["Trump", "the", "trump", "THE", "zzz"])
    table = np.arange(len(new) * 2, dtype="float32").reshape(-1, 2)
    fresh = table.copy()
    assert _start_from_other_forms(fresh, old, new) == 2
    assert (fresh[new.id("trump")] == table[old.id("Trump")]).all()
    assert (fresh[new.id("THE")] == table[old.id("the")]).all()
    assert (fresh[new.id("zzz")] == table[new.id("zzz")]).all()
    assert (fresh[: len(old)] == table[: len(old)]).all()


def test_a_crash_leaves_no_model_folder_and_resume_continues(trained, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    args = [
        "train",
        "--train",
        trained["train"],
        "--dev",
        trained["dev"],
        "--out",
        out,
        "--units",
        8,
        "--batch-size",
        8,
        "--epochs",
        2,
    ]
    calls = []
    real = ner.Tagger.dev_metrics

    def crash_in_epoch_2(*a):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(*a)

    monkeypatch.setattr(ner.Tagger, "dev_metrics", crash_in_epoch_2)
    result = CliRunner().invoke(ner_main, [str(a) for a in args])
    assert result.exit_code != 0
    assert not out.exists() and (tmp_path / "resumed.partial" / "checkpoint.keras").exists()
    monkeypatch.setattr(ner.Tagger, "dev_metrics", real)
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    assert "Resuming from epoch 1" in result.output and "Epoch 2/2" in result.output
    assert "Epoch 1/2" not in result.output
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    result = invoke(*args, "--resume")  # finished: nothing to resume, and it stays as it was
    assert result.exit_code == 2 and "a finished run" in result.output
    assert "Traceback" not in result.output and "Epoch 1/2" not in result.output
    assert json.loads((out / "history.json").read_text()) == history


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("", "empty file"),
        ("Anna B-PER\nSmith\n", ":2: token 'Smith' has no tag column"),
        ("Anna X-PER\n", ":1: tag 'X-PER' is not O"),
        (b"Anna \xff B-PER\n", ":1: not UTF-8"),
    ],
)
def test_bad_data_exits_2_naming_file_and_line(trained, tmp_path, content, message):
    path = tmp_path / "bad.conll"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = invoke("evaluate", "--model", trained["out"], "--data", path)
    assert result.exit_code == 2
    assert str(path) in result.output and message in result.output
    assert "Traceback" not in result.output


def test_unknown_model_lists_the_available_ones(tmp_path):
    result = invoke("predict", "--model", "no-such-model", "x")
    assert result.exit_code == 2
    assert "no-such-model" in result.output and "available" in result.output


def test_predict_reads_standard_input(trained):
    result = CliRunner().invoke(
        ner_main,
        ["predict", "--model", str(trained["out"]), "--json"],
        input="Ola Berg left Lima.\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["text"] == "Ola Berg left Lima."


def test_records_stream_the_same_batches_and_train(trained, tmp_path):
    from pipelines.data import records

    folder = tmp_path / "records"
    records.convert("ner", [trained["train"]], folder, shards=2)
    sentences = ner_data.read_tagged(trained["train"])
    streamed = ner_data.StreamedSentences([str(folder)])
    vocabs = NERPreprocessor.build(sentences, 1)
    again = NERPreprocessor.build(streamed, 1)
    assert sorted(again.words.tokens) == sorted(vocabs.words.tokens)
    assert sorted(again.tags.tokens) == sorted(vocabs.tags.tokens)

    def rows(dataset):
        out = []
        for x, y in dataset:
            for words, chars, tags in zip(x["words"].numpy(), x["chars"].numpy(), y.numpy()):
                n = int((words > 0).sum())
                letters = tuple(tuple(int(c) for c in row if c) for row in chars[:n])
                out.append((tuple(words[:n]), tuple(tags[:n]), letters))
        return sorted(out)

    from_file = ner_data.make_dataset(vocabs, sentences, 8, shuffle=False)
    from_records = ner_data.stream_dataset(vocabs, streamed, 8, shuffle=False)
    assert rows(from_records) == rows(from_file)  # encoded in the graph exactly as in Python
    out = tmp_path / "streamed-model"
    result = invoke(
        "train",
        "--train",
        folder,
        "--dev",
        trained["dev"],
        "--out",
        out,
        "--epochs",
        1,
        "--units",
        8,
        "--batch-size",
        8,
    )
    assert result.exit_code == 0, result.output
    assert (out / "model.keras").exists()
