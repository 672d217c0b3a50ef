"""Tokenizers that keep character offsets: `text[token.start:token.end] == token.text`.

`word_tokenize` follows the conventions of the CoNLL and Penn Treebank corpora the zoo trains on:
punctuation is split off, clitics (`'s`, `n't`, `'ll`, ...) are their own tokens, and
abbreviations (`U.S.`, `Mr.`), numbers (`1,000.50`, `12:30`, `22/11/2026`), hyphenated words
(`German-born`) and URLs stay whole.
"""

import re
from typing import NamedTuple

from pipelines.text.word_chars import word_char


class Token(NamedTuple):
    text: str
    start: int  # offset of the first character in the original text
    end: int  # offset just past the last character


# The tokenizer is written twice from one table, once for Python's `re` and once for RE2, the
# engine of `tf.strings.regex_replace`, so that an exported model tokenizes inside the graph
# exactly as `word_tokenize` does. RE2 has no lookahead, so the work is done in two stages on a
# "marked" copy of the text: stage 1 wraps every token in MARK characters (MARK token MARK, gaps
# of white space between), stage 2 rewrites the marks (splits clitics off, joins a title to its
# period). Splitting the result on MARK alternates gap, token, gap, ..., gap; the pieces add up
# to the original text, which gives the offsets.
MARK = "\x01"
STAND_IN = "\x02"

# Word characters: one written-out table for both engines (`word_chars`), since Python's \w and
# RE2's \pL\pN\pM follow different Unicode versions and Python's \w leaves combining marks out.
_W = {engine: word_char(engine) for engine in ("re", "re2")}
# White space, the same set for both engines (Python's \s on str, written out; RE2's is ASCII).
_SPACE = " \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_S = f"[{_SPACE}]"
_NOT_S = f"[^{_SPACE}{MARK}]"
_TITLES = (
    "Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Inc|Corp|Ltd|Co|Bros|"
    "No|vs|etc|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_CLITIC_LETTERS = "s|S|re|RE|ve|VE|ll|LL|d|D|m|M"
_CLITICS = "|".join("'" + letters for letters in _CLITIC_LETTERS.split("|"))


def _stage1(engine):
    w = _W[engine]
    return "|".join(
        [
            rf"https?://{_NOT_S}+[^{_SPACE}{MARK}.,;:!?'\")\]]",  # a URL, no trailing punctuation
            r"[A-Za-z0-9_.+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+",  # an e-mail address (ASCII)
            r"(?:[A-Za-z]\.){2,}",  # U.S., e.g.
            r"[0-9]+(?:[.,:/][0-9]+)+",  # 1,000.50  12:30  22/11/2026
            rf"{w}+(?:[-'’]{w}+)*",  # words, hyphenated words, O'Neill, didn't, John's
            rf"\.\.\.|--|{_NOT_S}",  # ellipsis, dash, or any other single character
        ]
    )


def _stage2(engine):
    """(pattern, replacement) pairs; replacements use group 1 and 2."""
    w = _W[engine]
    g1, g2 = (r"\1", r"\2") if engine == "re2" else (r"\g<1>", r"\g<2>")
    return [
        # did|n't, ca|n't
        (rf"({w})(n't|N'T){MARK}", f"{g1}{MARK}{MARK}{g2}{MARK}"),
        # John|'s, O'Neill|'s
        (rf"({w})({_CLITICS}){MARK}", f"{g1}{MARK}{MARK}{g2}{MARK}"),
        # ' + s -> 's: a clitic standing alone (`the dog 's`)
        (rf"{MARK}'{MARK}{MARK}({_CLITIC_LETTERS}){MARK}", f"{MARK}'{g1}{MARK}"),
        # Mr + . -> Mr. before white space or the end
        (rf"{MARK}({_TITLES}){MARK}{MARK}\.{MARK}({_S}|$)", f"{MARK}{g1}.{MARK}{g2}"),
    ]


STAGE1_RE2 = _stage1("re2")
STAGE2_RE2 = _stage2("re2")
_STAGE1 = re.compile(_stage1("re"))
_STAGE2 = [(re.compile(pattern), replacement) for pattern, replacement in _stage2("re")]


def word_tokenize(text):
    """Splits raw text into word tokens with their character offsets.

    Example:
        >>> [t.text for t in word_tokenize("The U.S. didn't pay $1,000.50.")]
        ['The', 'U.S.', 'did', "n't", 'pay', '$', '1,000.50', '.']
    """
    # a MARK in the text itself stands in as another control character of the same length
    marked = _STAGE1.sub(lambda m: MARK + m.group() + MARK, text.replace(MARK, STAND_IN))
    for pattern, replacement in _STAGE2:
        marked = pattern.sub(replacement, marked)
    tokens, at = [], 0
    for index, piece in enumerate(marked.split(MARK)):
        if index % 2:
            tokens.append(Token(text[at : at + len(piece)], at, at + len(piece)))
        at += len(piece)
    return tokens


_DIGIT = re.compile(r"[0-9]")


def normalize_word(token):
    """The form a word vocabulary stores: case kept, ASCII digits folded to 0 (`1996` -> `0000`),
    so that numbers share embeddings by shape."""
    return _DIGIT.sub("0", token)


def char_tokenize(text):
    """One token per character (code point), spaces included, with offsets."""
    return [Token(ch, i, i + 1) for i, ch in enumerate(text)]


def split_text(text, level, lower=False):
    """Characters, or word tokens (`word_tokenize`); `lower` lower-cases words and folds their
    digits to 0 (how `pipelines.sentiment` and lower-cased word language models read text)."""
    if level == "char":
        return list(text)
    if lower:
        return [normalize_word(t.text.lower()) for t in word_tokenize(text)]
    return [t.text for t in word_tokenize(text)]
