"""The review corpus of lm-imdb-words (issue: review language models on unlabeled IMDB text).

    python benchmarks/corpora/imdb.py [OUT]     # default OUT: build/imdb

Writes OUT/lm-train.txt and OUT/lm-dev.txt, one review a line (whitespace collapsed, as
`pipelines.lm` reads a CSV's text column), from ../shared/data/imdb (DATA overrides):

- lm-dev.txt: the last 1,000 reviews of unsup.csv.gz, never trained on (the LM's dev figure);
- lm-train.txt: the other 49,000 unlabeled reviews, then the 25,000 training reviews.

The 25,000 test reviews are in neither. Prints each file's sha256 and size.
"""

import csv
import gzip
import hashlib
import os
import sys

HELD_OUT = 1000

data = os.environ.get("DATA", "../shared/data")
out = sys.argv[1] if len(sys.argv) > 1 else "build/imdb"
os.makedirs(out, exist_ok=True)
csv.field_size_limit(sys.maxsize)


def reviews(name):
    with gzip.open(os.path.join(data, "imdb", name), "rt", encoding="utf-8", newline="") as f:
        return [" ".join(row["text"].split()) for row in csv.DictReader(f)]


unsup, train = reviews("unsup.csv.gz"), reviews("train.csv.gz")
files = {
    "lm-train.txt": unsup[:-HELD_OUT] + train,
    "lm-dev.txt": unsup[-HELD_OUT:],
}
for name, lines in files.items():
    path = os.path.join(out, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    print(f"{digest}  {path}  ({len(lines):,} reviews, {os.path.getsize(path):,} bytes)")
