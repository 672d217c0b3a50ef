#!/usr/bin/env bash
# News and informal text for character language models that also read user-written text
# (issue: contextual string embeddings, WNUT-17). Writes OUT/train.txt and OUT/dev.txt
# (default OUT: build/informal) from ../shared/data and the news corpus of news.sh:
#   train = news.sh's train.txt, the first half of IMDB's 50,000 unlabeled reviews (one a line,
#           about as many characters as the news) and the sentences of WNUT-17's training
#           split (tokens joined by spaces);
#   dev   = news.sh's dev.txt and the last 1 % of the unlabeled reviews.
# No dev or test text of CoNLL-2003, WNUT-17 or IMDB's labelled splits is in either.
# Run from the project's root, after benchmarks/corpora/news.sh.
set -euo pipefail
data=${DATA:-../shared/data}
news=${NEWS:-build/news}
out=${1:-build/informal}
mkdir -p "$out"
cp "$news/train.txt" "$out/train.txt"
cp "$news/dev.txt" "$out/dev.txt"
python - "$data/imdb/unsup.csv.gz" "$out" <<'PY'
import csv, gzip, sys
with gzip.open(sys.argv[1], "rt", encoding="utf-8", newline="") as f:
    reviews = [" ".join(row[0].split()) for row in list(csv.reader(f))[1:] if row and row[0].strip()]
held = len(reviews) // 100
with open(f"{sys.argv[2]}/train.txt", "a", encoding="utf-8") as train:
    train.writelines(r + "\n" for r in reviews[: len(reviews) // 2])
with open(f"{sys.argv[2]}/dev.txt", "a", encoding="utf-8") as dev:
    dev.writelines(r + "\n" for r in reviews[-held:])
PY
awk -F'\t' 'NF == 0 || $0 ~ /^[[:space:]]*$/ {if (s != "") print s; s = ""; next}
     {s = (s == "" ? $1 : s " " $1)} END {if (s != "") print s}' \
  "$data/wnut17/train.conll" >> "$out/train.txt"
sha256sum "$out/train.txt" "$out/dev.txt"
wc -lc "$out/train.txt" "$out/dev.txt"
