"""`pipelines.records`: every task's corpus converts to sharded TFRecords and reads back the
same; glob patterns expand; bad input exits 2."""

import json

import pytest
from click.testing import CliRunner

from pipelines.data import records
from pipelines.records.__main__ import main as records_main


def invoke(*args):
    result = CliRunner().invoke(records_main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


CORPORA = {
    "ner": ("train.conll", "EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n\n", 2),
    "sentiment": ("train.csv", 'text,label\ngreat film,pos\n"dull, slow",neg\nok,pos\n', 3),
    "lm": ("train.txt", "".join(f"line {i}\n" for i in range(450)), 3),
    "seq2seq": ("train.dict", "cat K AE1 T\ntomato(2) T AH0 M AA1 T OW2\n", 2),
}


@pytest.mark.parametrize("task", sorted(CORPORA))
def test_convert_and_read_back(tmp_path, task):
    name, text, count = CORPORA[task]
    (tmp_path / name).write_text(text)
    out = tmp_path / "records"
    result = invoke(
        "convert", "--task", task, "--input", tmp_path / name, "--out", out, "--shards", 2
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["examples"] == count
    assert records.is_records(out) and len(list(out.glob("part-*.tfrecord.gz"))) == 2
    back = list(records.examples(out))
    assert len(back) == count
    if task == "ner":
        assert {"words": ["EU", "rejects"], "tags": ["B-ORG", "O"]} in back
    elif task == "sentiment":
        assert {"text": "dull, slow", "label": "neg"} in back
    elif task == "lm":
        assert sorted(b["text"] for b in back) == sorted(
            "".join(f"line {i}\n" for i in range(s, min(s + 200, 450))) for s in (0, 200, 400)
        )
    else:
        assert {"source": "tomato", "target": "T AH0 M AA1 T OW2"} in back
    streamed = list(records.dataset(out, seed=1))  # shuffled, every example once
    assert len(streamed) == count


def test_globs_and_bad_input(tmp_path):
    for part in range(3):
        (tmp_path / f"part-{part}.csv").write_text(f"text,label\nreview {part},pos\n")
    assert records.expand([tmp_path / "part-*.csv"]) == [
        str(tmp_path / f"part-{part}.csv") for part in range(3)
    ]
    out = tmp_path / "records"
    result = invoke(
        "convert", "--task", "sentiment", "--input", tmp_path / "part-*.csv", "--out", out
    )
    assert result.exit_code == 0 and len(list(records.examples(out))) == 3
    result = invoke(
        "convert", "--task", "sentiment", "--input", tmp_path / "none-*.csv", "--out", out
    )
    assert result.exit_code == 2 and "no files match this pattern" in result.output
    result = invoke("info", tmp_path)
    assert result.exit_code == 2 and "not a records folder" in result.output
