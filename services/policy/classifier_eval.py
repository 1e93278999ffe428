"""How well the classifier judges a labelled corpus: precision and recall per label, harmful advice.

Pure: it takes the corpus as lines of CSV text and a classifier function, and reads no file itself.
The corpus (tests/data/classifier_corpus.csv) has the columns text, urgent (1/0), category (a
RequestCategory value), numbers (the emergency numbers a human would advise, "120|110" or empty),
month (1-12) and note. How its labels are chosen:
- urgent: a life or health may be at risk now; when unsure, a human would still treat it as urgent.
  Power or water cut in the winter months counts as urgent, as config/policy.py decides.
- category: an emergency is filed under its own kind (falls and illness 医, fire 住, a missing person
  or violence 其他); medicine is always 医; an explicit "buy me X" is 帮购; otherwise what is asked for.
- numbers: only what should be called now: 120 for health, 119 for fire, gas leaks, collapses and snakes
  in the house, 110 for a missing person or violence; a bare 救命 gets 120|110.
Rows noted holdout, holdout2 and holdout3 were written after a round of tuning and scored before the
tables were tuned on them: the classifier's score on new phrasings was far lower than on the rest.
Add every real message it gets wrong, labelled as a human would, before tuning for it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from models.enums import RequestCategory, Urgency
from services.policy.classify import CLASSIFIED_CATEGORIES, Classification, classify

COLUMNS = ("text", "urgent", "category", "numbers", "month", "note")
NUMBERS = ("120", "110", "119")

# What the classifier must reach on the corpus (tests/services/policy/test_classifier_corpus.py).
TARGET_URGENT_RECALL = 0.98
TARGET_URGENT_PRECISION = 0.90
TARGET_CATEGORY_ACCURACY = 0.85
# Advice to call the fire brigade where there is no fire is never acceptable.
TARGET_HARMFUL_119 = 0


class CorpusError(ValueError):
    """A corpus row that cannot be read; the message names the line."""


@dataclass(frozen=True)
class LabelledMessage:
    """One corpus row: a message and what a human says the classifier should make of it."""

    text: str
    urgent: bool
    category: RequestCategory
    numbers: frozenset[str]
    month: int
    note: str = ""
    line: int = 0


@dataclass(frozen=True)
class Score:
    """Precision and recall of one label: how often it is right when given, and how often it is found."""

    label: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float | None:
        """Share of predictions that were right; None when the label was never predicted."""
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Share of labelled messages that were found; None when the corpus has none."""
        return self.correct / self.support if self.support else None


@dataclass(frozen=True)
class Outcome:
    """One message, its labels and what the classifier made of it."""

    message: LabelledMessage
    result: Classification

    @property
    def urgent(self) -> bool:
        """Whether the classifier called it urgent."""
        return self.result.urgency is Urgency.URGENT

    @property
    def numbers(self) -> frozenset[str]:
        """The emergency numbers the classifier advised."""
        return frozenset(self.result.emergency_numbers)

    @property
    def ok(self) -> bool:
        """Urgency, category and numbers all as labelled."""
        m = self.message
        return (self.urgent, self.result.category, self.numbers) == (m.urgent, m.category, m.numbers)


@dataclass(frozen=True)
class Evaluation:
    """The scores of one classifier over one corpus."""

    outcomes: tuple[Outcome, ...]
    urgency: tuple[Score, ...]
    categories: tuple[Score, ...]
    numbers: tuple[Score, ...]
    harmful: dict[str, int]
    category_correct: int

    @property
    def total(self) -> int:
        """How many messages were judged."""
        return len(self.outcomes)

    @property
    def category_accuracy(self) -> float:
        """Share of messages filed under their labelled category."""
        return self.category_correct / self.total if self.total else 0.0

    @property
    def errors(self) -> tuple[Outcome, ...]:
        """Every message the classifier got wrong in any way."""
        return tuple(o for o in self.outcomes if not o.ok)

    def score(self, label: str) -> Score:
        """The score of one label: "urgent", "normal", a category value or an emergency number."""
        for score in (*self.urgency, *self.categories, *self.numbers):
            if score.label == label:
                return score
        raise KeyError(label)

    def missed_targets(self) -> list[str]:
        """The targets this evaluation misses, in words; empty when all are met."""
        urgent = self.score("urgent")
        checks = (
            ("urgent recall", urgent.recall or 0.0, TARGET_URGENT_RECALL),
            ("urgent precision", urgent.precision or 0.0, TARGET_URGENT_PRECISION),
            ("category accuracy", self.category_accuracy, TARGET_CATEGORY_ACCURACY),
        )
        missed = [f"{name} {value:.3f} < {target:.2f}" for name, value, target in checks if value < target]
        if self.harmful.get("119", 0) > TARGET_HARMFUL_119:
            missed.append(f"119 advised without fire {self.harmful['119']} times")
        return missed


def parse_corpus(lines: Iterable[str]) -> list[LabelledMessage]:
    """Read corpus rows from CSV text (header first); a bad row raises CorpusError naming its line."""
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c != "note" and c not in (reader.fieldnames or ())]
    if missing:
        raise CorpusError(f"corpus header lacks column(s): {', '.join(missing)}")
    messages = []
    for row in reader:
        line = reader.line_num
        try:
            messages.append(_message(row, line))
        except (KeyError, ValueError) as exc:
            raise CorpusError(f"line {line}: {exc}") from None
    return messages


def _message(row: dict[str, str], line: int) -> LabelledMessage:
    urgent = (row["urgent"] or "").strip()
    if urgent not in ("0", "1"):
        raise ValueError(f"urgent must be 1 or 0, not {urgent!r}")
    numbers = frozenset(n.strip() for n in (row["numbers"] or "").split("|") if n.strip())
    unknown = numbers - set(NUMBERS)
    if unknown:
        raise ValueError(f"unknown emergency number(s) {sorted(unknown)}")
    month = int(row["month"])
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, not {month}")
    return LabelledMessage(
        text=row["text"] or "",
        urgent=urgent == "1",
        category=RequestCategory((row["category"] or "").strip()),
        numbers=numbers,
        month=month,
        note=(row.get("note") or "").strip(),
        line=line,
    )


def _score(label: str, outcomes: Sequence[Outcome], labelled: Callable, predicted: Callable) -> Score:
    return Score(
        label=label,
        support=sum(1 for o in outcomes if labelled(o)),
        predicted=sum(1 for o in outcomes if predicted(o)),
        correct=sum(1 for o in outcomes if labelled(o) and predicted(o)),
    )


def evaluate(
    messages: Iterable[LabelledMessage],
    classifier: Callable[[str, int], Classification] = classify,
) -> Evaluation:
    """Run `classifier` on every message and score urgency, categories and emergency-number advice."""
    outcomes = tuple(Outcome(m, classifier(m.text, m.month)) for m in messages)
    urgency = tuple(
        _score(label, outcomes, lambda o, want=want: o.message.urgent is want, lambda o, want=want: o.urgent is want)
        for label, want in (("urgent", True), ("normal", False))
    )
    categories = tuple(
        _score(
            category.value,
            outcomes,
            lambda o, c=category: o.message.category is c,
            lambda o, c=category: o.result.category is c,
        )
        for category in CLASSIFIED_CATEGORIES
    )
    numbers = tuple(
        _score(number, outcomes, lambda o, n=number: n in o.message.numbers, lambda o, n=number: n in o.numbers)
        for number in NUMBERS
    )
    harmful = {n: sum(1 for o in outcomes if n in o.numbers and n not in o.message.numbers) for n in NUMBERS}
    correct = sum(1 for o in outcomes if o.result.category is o.message.category)
    return Evaluation(outcomes, urgency, categories, numbers, harmful, correct)
