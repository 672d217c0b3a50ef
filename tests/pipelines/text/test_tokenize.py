"""Word and character tokenizers keep offsets into the original text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.text import char_tokenize, word_tokenize


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "EU rejects German call to boycott British lamb.",
            ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        ),
        (
            "The U.S. didn't pay $1,000.50.",
            ["The", "U.S.", "did", "n't", "pay", "$", "1,000.50", "."],
        ),
        (
            "John's German-born wife met Mr. Smith at 12:30 on 22/11/2026...",
            [
                "John",
                "'s",
                "German-born",
                "wife",
                "met",
                "Mr.",
                "Smith",
                "at",
                "12:30",
                "on",
                "22/11/2026",
                "...",
            ],
        ),
        ("O'Neill (U.K.) rose 3.5%!", ["O'Neill", "(", "U.K.", ")", "rose", "3.5", "%", "!"]),
        (
            "Mail me@x.org or see https://example.com/a?b=1.",
            ["Mail", "me@x.org", "or", "see", "https://example.com/a?b=1", "."],
        ),
        ("e\u0301te\u0301 🙂 مرحبا", ["e\u0301te\u0301", "🙂", "مرحبا"]),
        ("", []),
    ],
)
def test_word_tokenize(text, expected):
    assert [t.text for t in word_tokenize(text)] == expected


@given(st.text())
def test_offsets_point_into_the_text(text):
    tokens = word_tokenize(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert all(a.end <= b.start for a, b in zip(tokens, tokens[1:]))
    # nothing but whitespace is dropped
    assert "".join(t.text for t in tokens) == "".join(text.split())


def test_char_tokenize_keeps_every_character():
    tokens = char_tokenize("a b\n")
    assert [t.text for t in tokens] == ["a", " ", "b", "\n"]
    assert [(t.start, t.end) for t in tokens] == [(0, 1), (1, 2), (2, 3), (3, 4)]
