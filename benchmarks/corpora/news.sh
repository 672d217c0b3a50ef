#!/usr/bin/env bash
# The news corpus of lm-news-forward / lm-news-backward (issue: contextual string embeddings).
# Writes OUT/train.txt and OUT/dev.txt (default OUT: build/news) from ../shared/data:
#   dev   = the last 1 % of the lines of each news file (Reuters-21578, BBC News, ABC news):
#           held-out news paragraphs, never trained on;
#   train = the rest of those three files, the Brown corpus, both WSJ samples and the
#           sentences of CoNLL-2003's training split (tokens joined by spaces, one a line).
# CoNLL-2003's valid and test text is in neither. Run from the project's root.
set -euo pipefail
data=${DATA:-../shared/data}
out=${1:-build/news}
mkdir -p "$out"
: > "$out/train.txt"
: > "$out/dev.txt"
for name in reuters21578 bbc-news abc-news; do
  lines=$(zcat "$data/unlabeled/$name.txt.gz" | wc -l)
  held=$(( lines / 100 ))
  keep=$(( lines - held ))
  zcat "$data/unlabeled/$name.txt.gz" | awk -v k="$keep" 'NR <= k' >> "$out/train.txt"
  zcat "$data/unlabeled/$name.txt.gz" | awk -v k="$keep" 'NR > k' >> "$out/dev.txt"
done
for name in brown wsj-sample wsj-conll2000; do
  zcat "$data/unlabeled/$name.txt.gz" >> "$out/train.txt"
done
awk '/^-DOCSTART-/ {next} NF == 0 {if (s != "") print s; s = ""; next}
     {s = (s == "" ? $1 : s " " $1)} END {if (s != "") print s}' \
  "$data/conll2003/train.txt" >> "$out/train.txt"
sha256sum "$out/train.txt" "$out/dev.txt"
wc -lc "$out/train.txt" "$out/dev.txt"
