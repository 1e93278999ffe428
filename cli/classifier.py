"""`sanzhida classifier`: score the request classifier against the labelled corpus, for tuning its tables."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import click

CORPUS = Path("tests") / "data" / "classifier_corpus.csv"


@click.group("classifier")
def classifier_group() -> None:
    """Check how well requests are sorted by category and urgency."""


def default_corpus(roots: list[Path] | None = None) -> Path | None:
    """The corpus under the first of `roots` that has it: the working directory, else this source tree."""
    for root in roots or [Path.cwd(), Path(__file__).resolve().parents[1]]:
        if (root / CORPUS).is_file():
            return root / CORPUS
    return None


@classifier_group.command("eval")
@click.option(
    "--corpus", "corpus_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Labelled corpus CSV (default: {CORPUS} from the repository root).",
)
@click.option("--errors", is_flag=True, help="Also list every message classified differently from its labels.")
def classifier_eval(corpus_path: Path | None, errors: bool) -> None:
    """Print precision and recall per label; exit 1 if a target is missed."""
    from services.policy.classifier_eval import CorpusError, evaluate, parse_corpus

    corpus_path = corpus_path or default_corpus()
    if corpus_path is None:
        raise click.UsageError(f"No corpus found at {CORPUS}; run from the repository root or pass --corpus PATH.")
    try:
        with corpus_path.open(encoding="utf-8-sig", newline="") as lines:
            messages = parse_corpus(lines)
    except (CorpusError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{corpus_path}: {exc}") from None
    if not messages:
        raise click.ClickException(f"{corpus_path}: the corpus has no rows.")
    evaluation = evaluate(messages)
    click.echo(f"Corpus: {corpus_path} ({evaluation.total} messages)\n")
    click.echo("\n".join(report_lines(evaluation)))
    if errors:
        click.echo("\n" + "\n".join(error_lines(evaluation)))
    missed = evaluation.missed_targets()
    if missed:
        raise click.ClickException("targets missed: " + "; ".join(missed))
    click.echo("\nAll targets met.")


def _width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _ratio(value: float | None) -> str:
    return "   —" if value is None else f"{value:.2f}"


def report_lines(evaluation) -> list[str]:
    """The scores as a table: urgency, categories, emergency numbers, then the targets."""
    from services.policy import classifier_eval as ce

    head = f"{'precision':>10}{'recall':>8}{'labelled':>10}{'predicted':>11}"
    lines = [_pad("Urgency", 18) + head]
    for score in evaluation.urgency:
        lines.append(_row(score))
    lines += ["", _pad("Category", 18) + head]
    lines += [_row(score) for score in evaluation.categories]
    accuracy = f"{evaluation.category_accuracy:.3f} ({evaluation.category_correct}/{evaluation.total})"
    lines += [f"  accuracy {accuracy}", "", _pad("Emergency number", 18) + head + f"{'harmful':>9}"]
    lines += [_row(score) + f"{evaluation.harmful[score.label]:>9}" for score in evaluation.numbers]
    lines.append("  harmful = advised where the labels do not call for it (119 with no fire)")
    urgent = evaluation.score("urgent")
    lines += [
        "",
        "Targets",
        _target("urgent recall", urgent.recall, ce.TARGET_URGENT_RECALL),
        _target("urgent precision", urgent.precision, ce.TARGET_URGENT_PRECISION),
        _target("category accuracy", evaluation.category_accuracy, ce.TARGET_CATEGORY_ACCURACY),
        f"  {'119 without fire':<20}{evaluation.harmful['119']:>6}  (must be {ce.TARGET_HARMFUL_119})"
        + ("  ok" if evaluation.harmful["119"] <= ce.TARGET_HARMFUL_119 else "  MISSED"),
    ]
    return lines


def _row(score) -> str:
    return (
        "  " + _pad(score.label, 16)
        + f"{_ratio(score.precision):>10}{_ratio(score.recall):>8}{score.support:>10}{score.predicted:>11}"
    )


def _target(name: str, value: float | None, target: float) -> str:
    met = value is not None and value >= target
    shown = "    —" if value is None else f"{value:.3f}"
    return f"  {name:<20}{shown:>6}  (≥ {target:.2f})" + ("  ok" if met else "  MISSED")


def error_lines(evaluation) -> list[str]:
    """Each misclassified message with its corpus line, its note, and what differed."""
    wrong = evaluation.errors
    lines = [f"Misclassified ({len(wrong)} of {evaluation.total})"]
    for outcome in wrong:
        m, r = outcome.message, outcome.result
        diffs = []
        if outcome.urgent is not m.urgent:
            diffs.append(f"urgency {'urgent' if m.urgent else 'normal'} → {r.urgency.value}")
        if r.category is not m.category:
            diffs.append(f"category {m.category.value} → {r.category.value}")
        if outcome.numbers != m.numbers:
            diffs.append(f"numbers {'|'.join(sorted(m.numbers)) or '-'} → {'|'.join(sorted(outcome.numbers)) or '-'}")
        note = f"  [{m.note}]" if m.note else ""
        lines.append(f"  line {m.line:<4} month {m.month:<2}  {m.text}{note}")
        lines.append(f"{'':15}{'; '.join(diffs)}")
    return lines
