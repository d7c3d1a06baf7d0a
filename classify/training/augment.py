"""Perturbed copies of train headlines, for the teachers to label during distillation.

A student distilled on the train texts alone matches its teachers at 25k points. Copies with a
few words dropped, a word replaced by another from the train texts, or two neighbours swapped
carry no gold label, but the teachers score them like any text, so each copy is one more point
where the student must agree with the teachers (the augmentation step of TinyBERT, with words
drawn from the corpus instead of a masked language model, which no installed encoder has).
A copy may read oddly or even change meaning: its soft target is whatever the teachers make
of it, never the original's label, so that costs nothing but the step.

The copies depend only on the texts and ``seed``, not on the training seed, so runs that differ
in their seed share one set of copies and the teachers' scores of it (the soft-target cache).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

DROP = 0.1  # chance of each word being dropped
REPLACE = 0.1  # chance of each remaining word being replaced by a word from the corpus
SWAP = 0.5  # chance of one swap of two neighbouring words
MIN_WORDS = 3  # shorter texts are not copied: a perturbation would leave little of them


def augmented_texts(texts: Sequence[str], copies: float, seed: int) -> list[str]:
    """``copies`` perturbed copies per text on average (0.5: one for every other text).

    The whole part of ``copies`` copies every text that often; the fraction picks that share of
    the texts, at random, for one more. Texts under ``MIN_WORDS`` words are not copied, so
    slightly fewer copies come back.
    """
    if copies < 0:
        raise ValueError(f"augmented copies per text must be 0 or more, not {copies}")
    rng = random.Random(seed)
    # Replacement words, drawn in proportion to how often they occur. Links are left out:
    # a random one would add a rare word piece string, not a word.
    corpus = [w for text in texts for w in text.split() if not w.lower().startswith("http")]
    whole, fraction = int(copies), copies - int(copies)
    out: list[str] = []
    if not corpus:
        return out
    for text in texts:
        n = whole + (rng.random() < fraction)
        words = text.split()
        if len(words) >= MIN_WORDS:
            out += [perturb(words, rng, corpus) for _ in range(n)]
    return out


def perturb(words: Sequence[str], rng: random.Random, corpus: Sequence[str]) -> str:
    """One perturbed copy: drops, replacements, then maybe one swap of neighbours.

    At least one word always survives the drops, and a copy with nothing changed gets one
    word dropped, so a copy never equals its text.
    """
    kept = [w for w in words if rng.random() >= DROP] or [rng.choice(list(words))]
    kept = [rng.choice(corpus) if rng.random() < REPLACE else w for w in kept]
    if len(kept) > 1 and rng.random() < SWAP:
        i = rng.randrange(len(kept) - 1)
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    if kept == list(words):
        del kept[rng.randrange(len(kept))]
    return " ".join(kept)


def spliced_texts(texts: Sequence[str], copies: float, seed: int) -> list[str]:
    """``copies`` spliced headlines per text on average: the opening of the text joined to the
    close of another text drawn at random, each cut between its first and last third.

    A perturbed copy keeps most of one headline, so it is a near-repeat of a row the student
    is already taught; a splice pairs a subject and an event that no train headline pairs
    ("Infosys shares" with "slump after the Fed's surprise hike"), so the teachers' reading
    of it is their reading of a new headline, the part a student fails to copy. Cuts fall
    before a linking word or after a colon, comma or semicolon where a text has one (so
    "X shares tumble" meets "after Q3 miss" more often than a clause's middle), elsewhere
    between its first and last third. Texts under ``MIN_WORDS`` words take part in neither
    end; a splice equal to a text is dropped.
    """
    if copies < 0:
        raise ValueError(f"spliced copies per text must be 0 or more, not {copies}")
    rng = random.Random(seed)
    usable = [text.split() for text in texts if len(text.split()) >= MIN_WORDS]
    if len(usable) < 2:
        return []
    originals = {" ".join(words) for words in usable}
    whole, fraction = int(copies), copies - int(copies)
    out: list[str] = []
    for i, head in enumerate(usable):
        for _ in range(whole + (rng.random() < fraction)):
            j = rng.randrange(len(usable) - 1)
            tail = usable[j + (j >= i)]  # any text but this one
            joined = " ".join(head[: _cut(head, rng)] + tail[_cut(tail, rng) :])
            if joined not in originals:
                out.append(joined)
    return out


# Words a headline's second clause often opens with: a cut before one joins two clauses.
LINKS = frozenset(
    "as after on amid despite but while ahead over to in for with and following".split()
)


def _cut(words: Sequence[str], rng: random.Random) -> int:
    """Where to cut ``words`` (both sides keep at least one word): before a linking word or
    after a clause's punctuation if there is one, else between the first and last third."""
    n = len(words)
    joints = [i for i in range(1, n) if words[i].lower() in LINKS or words[i - 1][-1] in ":;,"]
    if joints:
        return rng.choice(joints)
    return rng.randint(max(1, n // 3), max(1, min(n - 1, n - n // 3)))
