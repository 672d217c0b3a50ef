"""Tokenizers that keep character offsets: `text[token.start:token.end] == token.text`.

`word_tokenize` follows the conventions of the CoNLL and Penn Treebank corpora the zoo trains on:
punctuation is split off, clitics (`'s`, `n't`, `'ll`, ...) are their own tokens, and
abbreviations (`U.S.`, `Mr.`), numbers (`1,000.50`, `12:30`, `22/11/2026`), hyphenated words
(`German-born`) and URLs stay whole.
"""

import re
from typing import NamedTuple


class Token(NamedTuple):
    text: str
    start: int  # offset of the first character in the original text
    end: int  # offset just past the last character


# Letters, digits and the combining marks that belong to them (an accent written as its own
# code point must not split a word).
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_W = rf"[\w{_COMBINING}]"
_TITLES = (
    "Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Inc|Corp|Ltd|Co|Bros|"
    "No|vs|etc|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_CLITICS = r"(?:'s|'S|'re|'RE|'ve|'VE|'ll|'LL|'d|'D|'m|'M|n't|N'T)"

_TOKEN = re.compile(
    "|".join(
        [
            r"https?://\S+[^\s.,;:!?'\")\]]",  # a URL, without trailing punctuation
            r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # an e-mail address
            r"(?:[A-Za-z]\.){2,}",  # U.S., e.g.
            rf"\b(?:{_TITLES})\.(?=\s|$)",  # Mr. and friends, before a space
            r"\d+(?:[.,:/]\d+)+",  # 1,000.50  12:30  22/11/2026
            rf"{_W}+?(?=n't\b|N'T\b)",  # do|n't
            _CLITICS + r"\b",
            rf"{_W}+(?:[-'’]{_W}+)*?(?={_CLITICS}\b)",  # John|'s
            rf"{_W}+(?:[-'’]{_W}+)*",  # words, hyphenated words, O'Neill
            r"\.\.\.|--|[^\s]",  # ellipsis, dash, or any other single character
        ]
    )
)


def word_tokenize(text):
    """Splits raw text into word tokens with their character offsets.

    Example:
        >>> [t.text for t in word_tokenize("The U.S. didn't pay $1,000.50.")]
        ['The', 'U.S.', 'did', "n't", 'pay', '$', '1,000.50', '.']
    """
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def char_tokenize(text):
    """One token per character (code point), spaces included, with offsets."""
    return [Token(ch, i, i + 1) for i, ch in enumerate(text)]
