"""Task pipelines of the zoo: data in, trained, evaluated and exported models out.

Each task is a package with a Python API and a command line over it: `pipelines.ner`,
`pipelines.sentiment`, `pipelines.lm`, `pipelines.seq2seq` (`from pipelines import ner;
ner.load().predict([...])`, `python -m pipelines.ner predict ...`); `pipelines.vectors` learns
word vectors and `pipelines.records` converts corpora to sharded TFRecords. The machinery they
share lives beside them: `task` (the task shape and the training skeleton), `training` (the fit
loop), `text` (tokenizers, vocabularies), `data` (readers, records, tf.data input), `export`
(SavedModels with string signatures), `card`, `distribute`, `io`, `errors`, and `cli` (the
command lines' shared options and error handling). Importing a task does not import
TensorFlow; its first model does.
"""
