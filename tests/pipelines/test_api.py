"""The Python API of every task: the three-line use on the shipped models gives what
`predict --json` prints; `train` is a plain function returning a loaded task; settings and
errors as the command line has them; and each task's `predict` agrees with its export on
texts of any shape (hypothesis)."""

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import lm, ner, sentiment, seq2seq
from pipelines.errors import BadSetting, DataError
from tests import conftest

TEXTS = ["Teddy Roosevelt was a great president.", "", "Paris", "A gripping, moving film."]


def cli_records(task, *args):
    """The JSON lines of `python -m pipelines.<task> predict --json ...`, in-process."""
    module = __import__(f"pipelines.{task}.__main__", fromlist=["main"])
    result = conftest.invoke(module.main, "predict", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.strip().splitlines()]


@pytest.mark.parametrize(
    "task, module, args",
    [
        ("ner", ner, ()),
        ("sentiment", sentiment, ()),
        ("seq2seq", seq2seq, ()),
        ("lm", lm, ("--length", "20")),
    ],
)
def test_three_lines_give_what_predict_json_prints(task, module, args):
    model = module.load()
    options = {"length": 20} if task == "lm" else {}
    assert model.predict(TEXTS, **options) == cli_records(task, *args, *TEXTS)
    assert model.folder.endswith(module.DEFAULT_MODEL) and model.card["task"] == task


def test_shipped_folders_are_complete_and_name_only_shipped_models():
    """Each shipped model has its card, stays under 25 MB, and names the other models it
    needs (an ensemble's members, a tagger's language models) as shipped names, which a
    fresh clone has."""
    import os

    from pipelines.ner.contextual import CONTEXTUAL
    from pipelines.sentiment.ensemble import member_names
    from zoo import registry

    names = registry.available()
    pairs = {
        "sentiment-imdb": "sentiment-imdb-backward",
        "sentiment-sst2": "sentiment-sst2-backward",
    }
    assert {*pairs, *pairs.values(), "lm-imdb-words-backward"} <= set(names)
    for name in names:
        folder = registry.model_dir(name)
        assert os.path.isfile(os.path.join(folder, "README.md")), name
        assert os.path.isfile(os.path.join(folder, "card.json")), name
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        assert size < 25 * 2**20, name
        named = member_names(folder)  # an ensemble's members
        contextual = os.path.join(folder, CONTEXTUAL)  # a tagger's character LMs
        if os.path.exists(contextual):
            with open(contextual, encoding="utf-8") as handle:
                named += json.load(handle)["char_lms"]
        assert all(n in names for n in named), (name, named)
    for forward, backward in pairs.items():
        ensemble = sentiment.load(forward)
        assert [os.path.basename(m.folder) for m in ensemble.members] == [backward]
        assert ensemble.members[0].preprocessor.reverse and not ensemble.preprocessor.reverse


def test_language_model_scores_and_samples():
    model = lm.load("lm-dinos")
    first, second = model.sample(num=3, seed=3), model.sample(num=3, seed=3)
    assert first == second and len(first) == 3 and all(isinstance(s, str) for s in first)
    scored = model.score(["Tyrannosaurus", "Xqzzkq"])
    assert scored[0]["log_prob"] > scored[1]["log_prob"]
    assert set(scored[0]) == {"text", "log_prob", "tokens", "log_prob_per_token", "token_log_probs"}
    result = conftest.invoke(
        __import__("pipelines.lm.__main__", fromlist=["main"]).main,
        "sample",
        "--model",
        "lm-dinos",
        "--num",
        3,
        "--seed",
        3,
    )
    assert result.output.splitlines() == first


def test_evaluate_returns_the_metrics_of_evaluate_json(tiny):
    tagger = ner.load()
    metrics = tagger.evaluate(tiny["ner_dev"])
    assert {"precision", "recall", "f1", "per_type", "sentences"} <= set(metrics)
    with pytest.raises(DataError, match="no-such.conll"):
        tagger.evaluate(str(tiny["folder"] / "no-such.conll"))


def test_settings_are_the_command_line_options():
    assert ner.NERSettings().epochs == 30 and sentiment.SentimentSettings().epochs == 10
    assert lm.LMSettings().epochs == 20 and seq2seq.Seq2SeqSettings().epochs == 30
    with pytest.raises(ValueError, match="unknown setting 'epoch'"):
        ner.train("x.conll", out="y", epoch=3)
    help_text = conftest.invoke(
        __import__("pipelines.lm.__main__", fromlist=["main"]).main, "train", "--help"
    ).output
    assert "[default: 20; x>=1]" in " ".join(help_text.split())


def test_bad_settings_raise_the_line_the_command_line_prints(tiny, tmp_path):
    with pytest.raises(BadSetting, match="label_names: expected LABEL=NAME"):
        sentiment.train(tiny["sentiment"], out=tmp_path / "x", label_names="oops")
    main = __import__("pipelines.sentiment.__main__", fromlist=["main"]).main
    result = conftest.invoke(
        main,
        "train",
        "--train",
        tiny["sentiment"],
        "--out",
        tmp_path / "x",
        "--label-names",
        "oops",
    )
    assert result.exit_code == 2
    assert "Invalid value for --label-names: expected LABEL=NAME" in result.output
    assert not (tmp_path / "x").exists()


def test_train_is_a_plain_function_returning_the_task_without_click(tiny, tmp_path):
    script = textwrap.dedent(
        f"""
        import json, sys
        from pipelines import ner
        out = {str(tmp_path / "tagger")!r}
        tagger = ner.train({tiny["ner"]!r}, dev={tiny["ner_dev"]!r}, out=out, epochs=1,
                           units=8, batch_size=8, log=lambda message: None)
        again = ner.load(out)
        print(json.dumps({{
            "type": type(tagger).__name__,
            "epochs": tagger.summary["epochs"],
            "tokens": tagger.predict(["Ken Ito left Oslo"])[0]["tokens"],
            "same": again.predict(["Paris"]) == tagger.predict(["Paris"]),
            "command": tagger.card["command"],
            "settings": tagger.card["settings"],
            "click": "click" in sys.modules,
        }}))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["type"] == "Tagger" and result["epochs"] == 1 and result["same"]
    assert result["tokens"] == ["Ken", "Ito", "left", "Oslo"]
    assert result["command"].startswith("pipelines.ner.train([") and "epochs=1" in result["command"]
    assert not result["click"], "the library imported click"
    assert result["settings"]["epochs"] == 1 and result["settings"]["patience"] == 5


# === every input a user can type: the library and the export agree ===

# no sentence ends: the library tags a text sentence by sentence, the export as one sequence
ALPHABET = st.characters(exclude_categories=("Cs",), exclude_characters=".!?")
WORD = st.text(ALPHABET, min_size=1, max_size=12).filter(lambda w: w.strip())
TYPED = st.one_of(
    st.just(""),
    st.text(st.sampled_from(" \t\n\r\u00a0\u3000"), min_size=1, max_size=5),
    WORD,
    st.tuples(WORD, WORD).map(" ".join),
    st.just("x" * 5000),
    st.text(ALPHABET, max_size=40),
)
EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The shipped defaults (and lm-dinos, dates) with their exports, loaded."""
    import tensorflow as tf

    out = {}
    for name, module, model in (
        ("ner", ner, None),
        ("sentiment", sentiment, None),
        ("lm", lm, "lm-dinos"),
        ("seq2seq", seq2seq, "dates"),
    ):
        task = module.load(model)
        folder = tmp_path_factory.mktemp(name) / "export"
        task.export(str(folder))
        out[name] = (task, tf.saved_model.load(str(folder)).signatures["serving_default"])
    return out


def serve(signature, texts):
    import tensorflow as tf

    result = signature(texts=tf.constant(texts))
    return {k: v.numpy() for k, v in result.items()}


@EXAMPLES
@given(texts=st.lists(TYPED, min_size=1, max_size=3))
def test_tagger_and_its_export_agree(served, texts):
    tagger, signature = served["ner"]
    exported = serve(signature, texts)
    for i, record in enumerate(tagger.predict(texts)):
        n = int(exported["lengths"][i])
        assert [t.decode() for t in exported["tokens"][i][:n]] == record["tokens"]
        assert [t.decode() for t in exported["tags"][i][:n]] == record["tags"]


@EXAMPLES
@given(texts=st.lists(TYPED, min_size=1, max_size=3))
def test_classifier_and_its_export_agree(served, texts):
    classifier, signature = served["sentiment"]
    exported = serve(signature, texts)
    for i, record in enumerate(classifier.predict(texts)):
        probabilities = list(record["probabilities"].values())
        assert exported["probabilities"][i] == pytest.approx(probabilities, abs=1e-4)


@EXAMPLES
@given(texts=st.lists(TYPED, min_size=1, max_size=3))
def test_language_model_and_its_export_agree(served, texts):
    model, signature = served["lm"]
    exported = serve(signature, texts)
    for i, record in enumerate(model.score(texts)):
        assert int(exported["tokens"][i]) == record["tokens"]
        assert float(exported["log_prob"][i]) == pytest.approx(
            record["log_prob"], rel=1e-3, abs=1e-3
        )


@EXAMPLES
@given(texts=st.lists(TYPED, min_size=1, max_size=3))
def test_transducer_and_its_export_agree(served, texts):
    model, signature = served["seq2seq"]
    exported = serve(signature, texts)
    for i, record in enumerate(model.predict(texts)):
        assert exported["outputs"][i].decode() == record["output"]
        if not texts[i].strip(" \t\n\v\f\r"):
            assert record["output"] == "" and record["score"] == 0.0
