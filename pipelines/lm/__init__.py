"""Character and word language models.

    from pipelines import lm
    model = lm.load()                         # the shipped lm-shakespeare, a name or a folder
    model.sample(num=3, seed=1, prompt="ROMEO:")
    model.score(["To be, or not to be, that is the question."])
    model.evaluate("../shared/data/tinyshakespeare/valid.txt")
    lm.train("corpus.txt", dev="valid.txt", out="my-lm", epochs=5)

The command line is `python -m pipelines.lm train|evaluate|sample|score|predict|export`. Two
corpus formats: `text` (the default), a file read as one continuous text and trained with
truncated backpropagation through time (the text cut into `batch_size` parallel streams, read
in consecutive windows of `bptt` tokens, the states carried from one window to the next); and
`lines`, one sequence per line, each read from `<BOS>` to `<EOS>`. Level `char` (the default)
or `word` (the top `max_vocab` words; `<UNK>` for the rest; an `<EOS>` ends every line);
`reverse` makes a backward model. A model folder holds `model.keras` (a
`zoo.models.LanguageModel`), `vocab.txt` and `lm.json` (level, format, direction).
"""

from pipelines.data import records
from pipelines.lm.data import records_reader
from pipelines.lm.preprocess import LMPreprocessor
from pipelines.lm.task import DEFAULT_MODEL, LM, LMSettings, load, train

records.register("lm", records_reader)

__all__ = ["DEFAULT_MODEL", "LM", "LMPreprocessor", "LMSettings", "load", "train"]
