"""`python -m zoo.bench` runs and reports every implementation (speed itself is not tested)."""

import json

import pytest

from zoo import bench

TINY = [
    "--json",
    "--units=4",
    "--length=3",
    "--input-dim=5",
    "--batch-size=4",
    "--infer-batch-size=4",
    "--train-batches=2",
    "--infer-batches=1",
    "--rounds=1",
]


def _report(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_bench_through_fit_and_predict(capsys):
    bench.main([*TINY, "--no-torch", "--cells=gru", "--api=fit"])
    report = _report(capsys)
    assert "fit/predict" in report["model"]
    assert set(report["results"]) == {"zoo.layers.GRU", "keras.layers.GRU"}


def test_bench_through_fit_and_predict_on_datasets(capsys):
    bench.main([*TINY, "--no-torch", "--cells=lstm", "--api=dataset"])
    report = _report(capsys)
    assert "cached datasets" in report["model"]
    for numbers in report["results"].values():
        assert numbers["train_tokens_per_s"] > 0 and numbers["infer_tokens_per_s"] > 0


def test_bench_times_the_bfloat16_lstm_beside_the_float32_one(capsys):
    bench.main([*TINY, "--no-torch", "--cells=lstm,gru", "--bfloat16"])
    assert set(_report(capsys)["results"]) == {
        "zoo.layers.LSTM",
        "zoo.layers.LSTM bfloat16",
        "keras.layers.LSTM",
        "zoo.layers.GRU",
        "keras.layers.GRU",
    }


def test_bench_times_the_simple_rnn(capsys):
    bench.main([*TINY, "--no-torch", "--cells=rnn"])
    assert set(_report(capsys)["results"]) == {"zoo.layers.SimpleRNN", "keras.layers.SimpleRNN"}


def test_bench_times_torch_with_and_without_onednn(capsys):
    pytest.importorskip("torch")
    bench.main([*TINY, "--cells=lstm", "--torch-native"])
    results = _report(capsys)["results"]
    assert {"torch.nn.LSTM", "torch.nn.LSTM native"} <= set(results)
    assert results["torch.nn.LSTM native"]["train_tokens_per_s"] > 0


def test_bench_reports_zoo_and_keras(capsys):
    bench.main([*TINY, "--no-torch"])
    report = _report(capsys)
    assert set(report["results"]) == {
        "zoo.layers.LSTM",
        "keras.layers.LSTM",
        "zoo.layers.GRU",
        "keras.layers.GRU",
    }
    for numbers in report["results"].values():
        assert numbers["train_tokens_per_s"] > 0 and numbers["infer_tokens_per_s"] > 0


def test_bench_rejects_unknown_cells():
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--cells", "lstm,transformer"])
    assert exit_info.value.code == 2


def test_bench_layer_only_reports_every_loop_setting(capsys):
    bench.main(
        "--json --layer-only --cells=gru --units=3 --length=2 --input-dim=2 --batch-size=2 "
        "--infer-batch-size=2 --train-batches=1 --infer-batches=1 --rounds=1".split()
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["results"]) == {
        "keras.layers.GRU",
        "zoo.layers.GRU plain",
        "zoo.layers.GRU fused",
        "zoo.layers.GRU fused+xla",
        "zoo.layers.GRU kernel",
    }
