"""Task pipelines of the zoo: data in, trained, evaluated and exported models out.

Each task is a click group run as `python -m pipelines.<task>` (`ner`, `lm`, `sentiment`; and
`vectors` for word vectors); the shared machinery lives beside them: `text` (tokenizers,
vocabularies), `data` (readers, tf.data input), `training` (the fit loop), `export`
(SavedModels with string signatures), `cli` (options and error handling), `card` (model cards).
"""
