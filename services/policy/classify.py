"""Classify a help request's category and urgency from its words, table-driven and pure.

The tables are in config/classifier_words.py (read as config.policy.X). Urgency comes from signs
(摔倒, 着火, 喘不上气 …) that are current: not inside a look-alike (打不着火), not denied (没有摔倒), not in the past (上个月摔了一跤),
not hypothetical (怕摔倒) and not resolved later in the sentence (… 现在好了). When in doubt a sign
counts: a missed emergency costs more than an unneeded call. Clauses are split at punctuation and
spaces, and also before words such as 现在 or 但是, so voice transcripts without punctuation work.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from config import policy
from models.enums import RequestCategory, Urgency

SENTENCE_ENDS = "。！？!?\n"
CLAUSE_ENDS = SENTENCE_ENDS + "，,、；;：:…~～ \t"
# Particles dropped before a clause is compared with a whole-clause sign ("着了啊").
PARTICLES = "啊呀哦啦吧嘛哟呢"
# A sign followed by 过 happened before (晕倒过, 摔倒过), unless 过 starts 过去 or 过来 (晕倒过去).
PAST_ASPECT = "过"
# In a two-part sign "A…B", at most this many characters between A and B.
PAIR_GAP = 8
PAIR = "…"
MASK = "\0"
# Category words: decisive rows rank 0, 1, … in table order; then keywords; neutral words count for nothing.
KEYWORD_RANK = 100
NEUTRAL_RANK = 999
# A category word right after this is denied ("不是停电 是灯泡坏了" is about the bulb).
CATEGORY_DENIAL = "不是"


# The categories words can lead to: 联系 is raised only by the check-in scan (someone on a 报平安 plan
# went silent), never by what anyone wrote, so no table names it (tests/services/policy/test_checkin.py).
CLASSIFIED_CATEGORIES = tuple(c for c in RequestCategory if c is not RequestCategory.CHECK_ON)


@dataclass(frozen=True)
class Classification:
    """What a request is about, how urgent it is, and which emergency numbers to suggest."""

    category: RequestCategory
    urgency: Urgency
    emergency_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sign:
    """One urgent phrase from the tables: the category it files a request under and the numbers to advise."""

    phrase: str
    category: RequestCategory
    numbers: tuple[str, ...]
    generic: bool = False


@dataclass(frozen=True)
class FoundSign:
    """A sign found in a message, where it starts."""

    start: int
    sign: Sign


def classify(text: str, local_month: int) -> Classification:
    """Classify `text`; `local_month` (1-12) switches on the winter-only urgent signs."""
    norm = normalise(text)
    found = current_signs(norm, local_month)
    if not found:
        return Classification(category_of(norm), Urgency.NORMAL)
    specific = [f for f in found if not f.sign.generic]
    advising = specific or found
    numbers: list[str] = []
    for f in advising:
        numbers += [n for n in f.sign.numbers if n not in numbers]
    return Classification(advising[0].sign.category, Urgency.URGENT, tuple(numbers))


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, and dialect, homophones and typos to plain Mandarin."""
    text = unicodedata.normalize("NFKC", text or "").lower().strip()
    for variant, standard in policy.SPELLINGS:
        text = text.replace(variant, standard)
    return text


# --- urgency ---------------------------------------------------------------------------------------
@cache
def _signs(month_is_winter: bool) -> tuple[tuple[tuple[str, Sign], ...], dict[str, tuple[int, ...]],
                                             tuple[Sign, ...]]:
    """The signs for the season, with {人} expanded: (substring signs each with its `_lead`, the
    positions of those signs by their lead's first character, whole-clause signs).

    Worked out once here so that a message is only compared with the signs that start with one of its
    characters: testing each of the hundreds of signs on every message was the classifier's largest cost."""
    rows = policy.URGENT_SIGNS + (policy.WINTER_URGENT_SIGNS if month_is_winter else ())
    signs = [s for row in rows for s in _row_signs(row)]
    signs += [s for row in policy.GENERIC_URGENT_SIGNS for s in _row_signs(row, generic=True)]
    whole = tuple(s for row in policy.WHOLE_CLAUSE_SIGNS for s in _row_signs(row))
    leads = tuple((_lead(s.phrase), s) for s in signs)
    by_first: dict[str, list[int]] = {}
    for position, (lead, _) in enumerate(leads):
        by_first.setdefault(lead[:1], []).append(position)
    return leads, {first: tuple(positions) for first, positions in by_first.items()}, whole


def _row_signs(row: tuple[str, str, tuple[str, ...]], *, generic: bool = False) -> list[Sign]:
    """One table row as signs, each {人} phrase once per word of PEOPLE."""
    category, numbers, phrases = row
    advised = tuple(n for n in numbers.split("|") if n)
    expanded = [p.replace("{人}", person) for p in phrases for person in (policy.PEOPLE if "{人}" in p else ("",))]
    return [Sign(p, RequestCategory(category), advised, generic) for p in expanded]


def _mask(text: str, phrases: tuple[str, ...]) -> str:
    """`text` with every look-alike blanked out, positions unchanged."""
    for phrase in phrases:
        if phrase in text:
            text = text.replace(phrase, MASK * len(phrase))
    return text


def _occurrences(text: str, phrase: str):
    """Every position where `phrase` starts in `text`, overlapping ones included."""
    start = text.find(phrase)
    while start != -1:
        yield start
        start = text.find(phrase, start + 1)


def _spans(text: str, ends: str, starters: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """(start, end) of each clause or sentence: split at `ends`, and before each of `starters`."""
    cuts = {0, len(text)}
    cuts.update(i + 1 for i, ch in enumerate(text) if ch in ends)
    for starter in starters:
        if starter in text:
            cuts.update(i for i in _occurrences(text, starter) if i > 0)
    points = sorted(cuts)
    return [(a, b) for a, b in zip(points, points[1:]) if b > a]


def _span_of(spans: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    """The span that holds position `pos`."""
    return next(s for s in spans if s[0] <= pos < s[1])


def _negated(norm: str, pos: int) -> bool:
    """Whether a negation comes right before `pos` ("没有|摔倒"), uncertainty ("是不是|摔了") excepted."""
    before = norm[:pos]
    if before.endswith(policy.NOT_NEGATIONS):
        return False
    return before.endswith(policy.NEGATIONS)


def _markers(masked: str, norm: str, words: tuple[str, ...], *, check_negation: bool = False) -> list[int]:
    """Positions where one of `words` starts (outside look-alikes); `check_negation` drops "不醒了"-like ones."""
    found = []
    for word in words:
        # Most words are not in a message: a substring test is far cheaper than looking for each place.
        if word not in masked:
            continue
        for pos in _occurrences(masked, word):
            # "叫不醒了" and "还没好了" are no recovery.
            if check_negation and norm[:pos].endswith(("不", "没", "未")):
                continue
            found.append(pos)
    return found


@cache
def _lead(phrase: str) -> str:
    """What any match of a sign starts with: the phrase, or its first part for "A…B"."""
    return phrase.split(PAIR, 1)[0]


def _matches(masked: str, norm: str, phrase: str, clauses: list[tuple[int, int]]):
    """(start, end) of each match of a sign; for "A…B", B must follow A closely in its clause, not denied."""
    if PAIR not in phrase:
        for start in _occurrences(masked, phrase):
            yield start, start + len(phrase)
        return
    first, second = phrase.split(PAIR, 1)
    for start in _occurrences(masked, first):
        # The clause where A ends: a starter inside A (到|现在) must not cut B off.
        clause_end = _span_of(clauses, start + len(first) - 1)[1]
        window = masked[: min(clause_end, start + len(first) + PAIR_GAP + len(second))]
        at = window.find(second, start + len(first))
        if at == -1:
            continue
        # "胸口不疼" is no chest pain; a second part that is itself a denial ("叫…不醒") is what is meant.
        if second.startswith(("不", "没")) or not norm[:at].endswith(("不", "没")):
            yield start, at + len(second)


def current_signs(norm: str, local_month: int) -> list[FoundSign]:
    """The urgent signs in normalised text that are happening now, in the order they appear."""
    signs, by_first, whole_clause = _signs(local_month in policy.WINTER_MONTHS)
    masked = _mask(norm, policy.LOOK_ALIKES)
    clauses = _spans(norm, CLAUSE_ENDS, policy.CLAUSE_STARTERS)
    sentences = _spans(norm, SENTENCE_ENDS)
    past = _markers(masked, norm, policy.PAST_MARKERS)
    hypothetical = _markers(masked, norm, policy.HYPOTHETICAL_MARKERS)
    worry = _markers(masked, norm, policy.WORRY_MARKERS)
    resolved = _markers(masked, norm, policy.RESOLVED_MARKERS, check_negation=True)

    def is_current(start: int, end: int) -> bool:
        """Whether a sign at [start, end) is neither denied, past, hypothetical nor resolved."""
        clause = _span_of(clauses, start)
        sentence = _span_of(sentences, start)
        after = norm[end:]
        if _negated(norm, start):
            return False
        if after.startswith(PAST_ASPECT) and not after.startswith(("过去", "过来")):
            return False
        if any(clause[0] <= p < clause[1] for p in past):
            return False
        if any(clause[0] <= p < start for p in hypothetical):
            return False
        if not after.startswith("了") and any(clause[0] <= p < start for p in worry):
            return False
        return not any(end <= p < sentence[1] for p in resolved)

    found = []
    # The signs whose lead starts with a character of the message, in the tables' order (which decides
    # among signs found at one place); an empty lead (none today) would match anywhere.
    candidates = sorted({n for first in {*masked, ""} for n in by_first.get(first, ())})
    for n in candidates:
        lead, sign = signs[n]
        if lead not in masked:
            continue
        for start, end in _matches(masked, norm, sign.phrase, clauses):
            if is_current(start, end):
                found.append(FoundSign(start, sign))
    for a, b in clauses:
        bare = "".join(ch for ch in norm[a:b] if ch not in CLAUSE_ENDS + PARTICLES)
        for sign in whole_clause:
            if bare and not bare.replace(sign.phrase, "") and is_current(a, b):
                found.append(FoundSign(a, sign))
    return sorted(found, key=lambda f: (f.start, f.sign.generic))


# --- category --------------------------------------------------------------------------------------
@cache
def _vocabulary() -> tuple[dict[str, tuple[int, str]], int]:
    """Every category word -> (rank, category), and the length of the longest word."""
    words: dict[str, tuple[int, str]] = {}
    for rank, (category, row) in enumerate(policy.CATEGORY_DECISIVE_WORDS):
        for word in row:
            words.setdefault(word, (rank, category))
    for category, row in policy.CATEGORY_KEYWORDS:
        for word in row:
            words.setdefault(word, (KEYWORD_RANK, category))
    for word in policy.CATEGORY_NEUTRAL_WORDS:
        words.setdefault(word, (NEUTRAL_RANK, ""))
    return words, max(map(len, words))


def category_of(norm: str) -> RequestCategory:
    """The category of normalised text with no urgent sign: a decisive word, else the most keyword hits."""
    words, longest = _vocabulary()
    hits: list[tuple[int, int, str]] = []  # (rank, position, category)
    i = 0
    while i < len(norm):
        for size in range(min(longest, len(norm) - i), 0, -1):
            entry = words.get(norm[i:i + size])
            if entry is not None:
                if entry[0] < NEUTRAL_RANK and not norm[:i].endswith(CATEGORY_DENIAL):
                    hits.append((entry[0], i, entry[1]))
                i += size
                break
        else:
            i += 1
    decisive = [h for h in hits if h[0] < KEYWORD_RANK]
    if decisive:
        return RequestCategory(min(decisive)[2])
    counts: dict[str, list[int]] = {}
    for _, pos, category in hits:
        counts.setdefault(category, []).append(pos)
    if not counts:
        return RequestCategory.OTHER
    best = max(counts.items(), key=lambda item: (len(item[1]), -item[1][0]))
    return RequestCategory(best[0])

