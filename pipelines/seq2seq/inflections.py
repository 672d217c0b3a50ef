"""A lexicon word's inflections answered as the lexicon spells its own: "horse's" from "horse".

A pronouncing dictionary lists "horse" and many possessives and plurals, but not every one: a
word it does not list that is a listed word plus one of `suffixes` ("horse" + "'s") is answered
with the listed word's first target changed the way the lexicon's own pairs of that kind
change it; a word that plus one of `bases` is a listed word ("toscanini" + "'s" =
"toscanini's", listed) the other way round. CMU's own lexicon tool adds possessives and plurals
by rule in the same spirit.

The changes are learned from the lexicon, not written by hand: every pair of listed words
(stem, stem + suffix) gives the tokens the longer word's first target drops from the end of
the stem's and the tokens it adds (HH AO1 R S -> HH AO1 R S IH0 Z: drop none, add IH0 Z),
counted under a key of the suffix, the stem's last target token without stress digits ("S")
and the stem's last character ("e"). The most common change of a key is used where at least
half of the key's pairs make it; where no change has that majority, or the key was never seen,
the network decides. Stems are at least `MIN_STEM` characters. For `bases` the same, from the
longer word to the stem, keyed by the longer word's last two target tokens (Z alone does not
say whether "'s" added a syllable: IH0 Z after S, Z after G) and the stem's last character.

On CMUdict's development words with the shipped `g2p-cmudict` (suffixes s 's s' ', bases s 's:
1,660 of the 6,230 dev words answered so) the WER fell from 0.263 to 0.250 and the PER from
0.0685 to 0.0649 (the model card has the commands): the network gets possessives of names
wrong in ways the dictionary's stem settles ("arkansas's").
"""

import collections
import re

from pipelines.seq2seq.preprocess import Seq2SeqPreprocessor

MIN_STEM = 2  # characters a stem keeps
STEM_TOKENS = 1  # the stem's last target tokens in the key of a suffix
LONGER_TOKENS = 2  # the longer word's last target tokens in the key of a base
SEPARATOR = "\t"  # between the parts of a rule key (`key`) and of a change (`Inflections.table`)


def plain(token):
    """A target token without its stress digits (ARPAbet's "AH0" -> "AH")."""
    return re.sub(r"[0-9]+$", "", token)


def key(suffix, tokens, character):
    """The key a change is counted under: the suffix, target tokens without stress digits
    (joined by spaces) and a source character."""
    return SEPARATOR.join((suffix, " ".join(map(plain, tokens)), character))


def change(start, end):
    """(tokens dropped from the end of `start`, tokens added) that make `end` of `start`."""
    shared = 0
    while shared < min(len(start), len(end)) and start[shared] == end[shared]:
        shared += 1
    return len(start) - shared, tuple(end[shared:])


class Inflections:
    """The changes of a `rerank.Lexicon` (whose targets are written at `target_level`) for
    `suffixes` (a listed word plus one of them) and `bases` (a word that plus one of them is
    listed). `get(source)` answers an unlisted source or returns None."""

    def __init__(self, lexicon, target_level, suffixes=(), bases=()):
        self.lexicon, self.target_level = lexicon, target_level
        # the shortest suffix first, whatever the order given ("bus's" is tried as "bus'" + s
        # before "bus" + 's)
        self.suffixes = sorted(dict.fromkeys(suffixes), key=len)
        self.bases = sorted(dict.fromkeys(bases), key=len)
        self.added, self.removed = self._learn()

    def settings(self):
        return {"suffixes": self.suffixes, "bases": self.bases}

    def _first(self, source):
        return self.lexicon.token_lists(source, self._split)[0]

    def _split(self, target):
        return Seq2SeqPreprocessor.split(target, self.target_level)

    def _learn(self):
        added = collections.defaultdict(collections.Counter)
        removed = collections.defaultdict(collections.Counter)
        kinds = [(s, added, True) for s in self.suffixes] + [
            (s, removed, False) for s in self.bases
        ]
        for longer in self.lexicon.entries:
            for suffix, counts, forwards in kinds:
                stem = longer[: -len(suffix)]
                if not longer.endswith(suffix) or len(stem) < MIN_STEM:
                    continue
                if self.lexicon.get(stem) is None:
                    continue
                short, long = self._first(stem), self._first(longer)
                if not short or not long:
                    continue
                if forwards:
                    counts[key(suffix, short[-STEM_TOKENS:], stem[-1])][change(short, long)] += 1
                else:
                    counts[key(suffix, long[-LONGER_TOKENS:], stem[-1])][change(long, short)] += 1
        return majority(added), majority(removed)

    def get(self, source):
        """The target of `source` (folded as the lexicon's sources are) made from a listed
        word's first target, or None: the first suffix whose stem is listed decides, then the
        first base."""
        made = self.get_all(source)
        return made[0] if made else None

    def get_all(self, source):
        """Every target of `source` made from the listed word's targets, in the order the
        lexicon lists them (`get`'s first); empty where `get` makes none."""
        found = self._find(source)
        if found is None:
            return []
        rules, context, suffix, listed, character = found
        made = [
            self._apply(rules, context, suffix, tokens, character)
            for tokens in self.lexicon.token_lists(listed, self._split)
        ]
        if made[0] is None:
            return []
        return list(dict.fromkeys(m for m in made if m is not None))

    def _find(self, source):
        """(rules, context, suffix, the listed source, the stem's last character) of the
        listed word `source` is made from, or None."""
        for suffix in self.suffixes:
            stem = source[: -len(suffix)]
            if source.endswith(suffix) and len(stem) >= MIN_STEM and self.lexicon.get(stem):
                return self.added, STEM_TOKENS, suffix, stem, stem[-1]
        if len(source) >= MIN_STEM:
            for suffix in self.bases:
                if self.lexicon.get(source + suffix):
                    return self.removed, LONGER_TOKENS, suffix, source + suffix, source[-1]
        return None

    def _apply(self, rules, context, suffix, tokens, character):
        if not tokens:
            return None
        rule = rules.get(key(suffix, tokens[-context:], character))
        if rule is None:
            return None
        drop, add = rule
        return Seq2SeqPreprocessor.join(
            list(tokens[: max(len(tokens) - drop, 0)]) + list(add), self.target_level
        )

    def table(self, rules):
        """`rules` (`added` or `removed`) as two lists of strings for a lookup table: the keys,
        and each change as "DROP<TAB>ADDED TOKENS" (joined at the target level)."""
        keys = sorted(rules)
        values = [
            f"{rules[k][0]}{SEPARATOR}"
            + Seq2SeqPreprocessor.join(list(rules[k][1]), self.target_level)
            for k in keys
        ]
        return keys, values


def majority(counts):
    """The change each key's pairs make at least half of the time (keys without one left out)."""
    found = {}
    for name, changes in counts.items():
        ((best, seen),) = changes.most_common(1)
        if 2 * seen >= sum(changes.values()):
            found[name] = best
    return found
