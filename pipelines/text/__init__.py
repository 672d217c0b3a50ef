"""Text processing shared by every task: tokenizers with character offsets, vocabularies."""

from pipelines.text.tokenize import (
    Token,
    char_tokenize,
    normalize_word,
    split_text,
    word_tokenize,
)
from pipelines.text.vocabulary import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "UNK",
    "Token",
    "Vocabulary",
    "char_tokenize",
    "normalize_word",
    "split_text",
    "word_tokenize",
]
