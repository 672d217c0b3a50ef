"""The in-graph tokenizer of exported models splits text exactly as `word_tokenize` does."""

import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.export import graph_word_tokenize
from pipelines.text import word_tokenize

EXAMPLES = [
    "Teddy Roosevelt was a great president.",
    "EU rejects German call to boycott British lamb.",
    "",
    "   ",
    "The U.S. didn't pay $1,000.50 to Mr. Smith's firm at 12:30 on 22/11/2026...",
    "Ça va? naïve café — 東京 🙂 مرحبا بالعالم x\u0301y",
    "a\x01b\x02 Mr.",
    "O'Neill's  dog  'll\u00a0go in Dec. ",
    "see https://example.com/a?b=1. or mail me@x.org -- now",
    "CAN'T won't I'm we'RE",
]


def graph_tokens(texts):
    tokens, starts, ends = graph_word_tokenize(tf.constant(texts))
    return [
        [(t.decode("utf-8"), int(a), int(b)) for t, a, b in zip(*row)]
        for row in zip(tokens.numpy(), starts.numpy(), ends.numpy())
    ]


def python_tokens(texts):
    return [[tuple(t) for t in word_tokenize(text)] for text in texts]


def test_graph_tokenizer_matches_word_tokenize():
    assert graph_tokens(EXAMPLES) == python_tokens(EXAMPLES)


_ALPHABET = st.sampled_from(
    list("aZ9 .,'’-$:/@!?n't\u00a0\t\nétü東🙂\u0301") + ["Mr", "U.S.", "n't", "'s"]
)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(_ALPHABET, max_size=25).map("".join), min_size=1, max_size=8))
def test_graph_tokenizer_matches_on_random_text(texts):
    assert graph_tokens(texts) == python_tokens(texts)


def test_both_engines_agree_on_every_word_character_edge():
    """Word characters come from one written-out table (`word_chars`), not from each engine's
    own Unicode classes: at every edge of the table (and around it) both split alike. Before,
    Python's \\w left combining marks out (Devanagari vowel signs) and RE2 knew letters newer
    than Python's Unicode (U+31350)."""
    from pipelines.text import word_chars

    points = {0x31350, 0x93E, 0x483}
    for first, last in word_chars._ranges():
        points.update({first - 1, first, last, last + 1})
    texts = [
        f"0{chr(p)}a {chr(p)}"
        for p in sorted(points)
        if 0 < p <= 0x10FFFF and not 0xD800 <= p <= 0xDFFF and p not in (1, 2)
    ]
    assert graph_tokens(texts) == python_tokens(texts)
    assert [t.text for t in word_tokenize("नमस्ते दुनिया")] == ["नमस्ते", "दुनिया"]
