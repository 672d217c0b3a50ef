"""String-to-string tasks: an encoder-decoder with attention (G2P, dates, any pairs).

    from pipelines import seq2seq
    g2p = seq2seq.load()                      # the shipped g2p-cmudict, a name or a folder
    g2p.predict(["knight", "photosynthesis"])
    g2p.evaluate("../shared/data/cmudict/dev.dict")
    seq2seq.train("pairs.tsv", dev="dev.tsv", out="my-model", epochs=5)

The command line is `python -m pipelines.seq2seq
train|evaluate|predict|export|rerank|ensemble|dates`.
Data: pair files, one `source<TAB>target` a line (`.gz` allowed), or the CMU Pronouncing
Dictionary (`WORD PH1 PH2 ...`; alternates `WORD(2)`; `# comments` and `;;;` lines skipped;
`.dict` files, or `data_format="cmudict"`). A source listed more than once has several right
answers: evaluation counts an output right when it matches any of them. Each side is split
into tokens at a level: `char`, `word` (`word_tokenize`) or `space` (whitespace-separated
symbols, e.g. phonemes). A model folder holds `model.keras` (a `zoo.models.Seq2Seq`, or a
`Seq2SeqEnsemble`), `source.txt`, `target.txt` (vocabularies) and `seq2seq.json` (levels);
`rerank` adds a lexicon (and the inflections of its words, `pipelines.seq2seq.inflections`)
and a rescorer (`pipelines.seq2seq.rerank`); `ensemble`
(`make_ensemble`) makes one network of several; `dates` makes the course's date task.
"""

from pipelines.data import records
from pipelines.seq2seq.data import records_reader
from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor
from pipelines.seq2seq.task import (
    DEFAULT_MODEL,
    Seq2SeqSettings,
    Transducer,
    load,
    make_ensemble,
    train,
)

records.register("seq2seq", records_reader)

__all__ = [
    "DEFAULT_MODEL",
    "Seq2SeqPreprocessor",
    "Seq2SeqSettings",
    "Transducer",
    "load",
    "make_ensemble",
    "train",
]
