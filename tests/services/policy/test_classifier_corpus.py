"""The classifier judged by the labelled corpus: targets, the hard cases by name, the metrics and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from cli.classifier import default_corpus
from config import policy
from models.enums import RequestCategory, Urgency
from services.policy.classifier_eval import CorpusError, LabelledMessage, evaluate, parse_corpus
from services.policy.classify import CLASSIFIED_CATEGORIES, Classification, classify

CORPUS = Path(__file__).resolve().parents[2] / "data" / "classifier_corpus.csv"
HEADER = "text,urgent,category,numbers,month,note\n"


@pytest.fixture(scope="module")
def corpus() -> list[LabelledMessage]:
    """The labelled corpus, read once."""
    with CORPUS.open(encoding="utf-8", newline="") as lines:
        return parse_corpus(lines)


@pytest.fixture(scope="module")
def evaluation(corpus):
    """The classifier's scores on the corpus."""
    return evaluate(corpus)


def _errors(outcomes) -> str:
    return "\n".join(f"line {o.message.line}: {o.message.text}" for o in outcomes)


def test_the_corpus_is_large_and_covers_every_label(corpus):
    """Enough messages, both urgencies, every category and every emergency number."""
    assert len(corpus) >= 300
    assert {m.category for m in corpus} == set(CLASSIFIED_CATEGORIES)
    assert sum(m.urgent for m in corpus) >= 100
    assert set().union(*(m.numbers for m in corpus)) == {"120", "110", "119"}
    assert {m.month for m in corpus} >= set(policy.WINTER_MONTHS) | {6, 7, 8}


def test_urgent_messages_are_found(evaluation):
    """Urgent recall at least 0.98: a missed emergency is the worst mistake."""
    urgent = evaluation.score("urgent")
    missed = [o for o in evaluation.outcomes if o.message.urgent and not o.urgent]
    assert urgent.recall >= 0.98, "missed:\n" + _errors(missed)


def test_urgent_means_urgent(evaluation):
    """Urgent precision at least 0.90, so supervisors are not called for a past fall."""
    urgent = evaluation.score("urgent")
    wrong = [o for o in evaluation.outcomes if o.urgent and not o.message.urgent]
    assert urgent.precision >= 0.90, "called urgent:\n" + _errors(wrong)


def test_categories_are_mostly_right(evaluation):
    """Category accuracy at least 0.85."""
    wrong = [o for o in evaluation.outcomes if o.result.category is not o.message.category]
    assert evaluation.category_accuracy >= 0.85, "wrong category:\n" + _errors(wrong)


def test_no_fire_brigade_without_a_fire(evaluation):
    """119 is never advised for a message whose labels do not call for it (a stove that will not light)."""
    wrong = [o for o in evaluation.outcomes if "119" in o.numbers and "119" not in o.message.numbers]
    assert evaluation.harmful["119"] == 0, "119 advised:\n" + _errors(wrong)


@pytest.mark.parametrize(
    "text, month",
    [
        # look-alikes: they contain an urgent word and mean something else
        ("煤气灶打不着火了，做不了饭", 6),
        ("灶打不着火", 1),
        ("打火机打不着火了 帮我买个", 11),
        ("帮我买张火车票 想去武汉看女儿", 4),
        ("最近上火 嘴巴起泡", 8),
        ("老头子发火了 跟我吵了一架", 6),
        ("想吃火锅 帮我带一包底料", 12),
        ("把炉子点着了 屋里暖和了", 12),
        ("早上摔了个碗 帮我买两个碗", 6),
        ("手机摔坏了", 9),
        ("血压计不准 么样弄", 7),
        ("有点晕车 明天复查能不能派个车", 5),
        ("头晕了两天了 想去量个血压", 5),
        ("我这个是救命钱 低保么样停了", 11),
        ("找不到人帮忙收谷", 9),
        ("屋里的狗走丢了", 5),
        ("煤气罐冇得气了 帮我换一罐", 12),
        ("债压得喘不过气 能申请低保不", 6),
        ("今天太冷了 帮我买个热水袋", 12),
        ("凳子腿断了", 6),
        # the past and the resolved
        ("上个月摔了一跤，现在好了", 6),
        ("上个月摔了一跤现在好了", 6),
        ("去年屋里着过火 想申请危房改造", 9),
        ("前年我妈晕倒过一次 现在好了", 5),
        ("我中风好几年了 想申请护理补贴", 9),
        ("刚才厨房着火了 已经灭了", 11),
        ("我妈找到了 谢谢你们", 8),
        ("停电了 刚刚又来电了", 12),
        ("摔了一跤 冇得事 就是擦破点皮", 5),
        ("上次打120来得好慢", 6),
        # denied, hypothetical, not real
        ("没有摔倒 就是腿有点软", 6),
        ("我妈冇摔 就是头有点晕", 9),
        ("不是着火 是隔壁在烧稻草", 10),
        ("人冇走丢 在邻居屋里打牌", 6),
        ("没事 不严重", 6),
        ("不是停电 是灯泡坏了", 12),
        ("怕老人夜里摔倒 想装个扶手", 6),
        ("万一着火了么样办", 10),
        ("刚才停电 吓得我以为着火了", 7),
        ("电视剧里那个人晕倒了", 9),
        ("明天要停电", 12),
        # winter-only words outside winter
        ("停电了", 7),
        ("冻得发抖", 7),
    ],
)
def test_not_urgent(text, month):
    """Look-alikes, the past, the resolved, the denied and the hypothetical are not emergencies."""
    result = classify(text, month)
    assert (result.urgency, result.emergency_numbers) == (Urgency.NORMAL, ())


@pytest.mark.parametrize(
    "text, month, category, numbers",
    [
        ("我爸晕倒了叫不醒", 6, "医", ("120",)),
        ("老娘摔地上起不来", 9, "医", ("120",)),
        ("我妈摔到了 起不来", 5, "医", ("120",)),
        ("老头子在厕所里掼了一跤 爬不起来", 11, "医", ("120",)),
        ("喘不上气", 6, "医", ("120",)),
        ("我妈吃了东西以后喉咙肿了 喘不赢气", 6, "医", ("120",)),
        ("叫她也不应 身上冰凉", 1, "医", ("120",)),
        ("我妈从早上到现在一直在睡 怎么叫都不醒", 6, "医", ("120",)),
        ("屋里着火了", 9, "住", ("119",)),
        ("屋里烟好大 着了", 3, "住", ("119",)),
        ("着火了 老头子被烟呛晕了", 12, "住", ("119", "120")),
        ("救命 着火了", 6, "住", ("119",)),
        ("救命", 6, "其他", ("120", "110")),
        ("人找不到了", 6, "其他", ("110",)),
        ("我爸糊涂了 不晓得走哪克了", 9, "其他", ("110",)),
        ("冻得发抖", 12, "穿", ()),
        ("停电了", 1, "住", ()),
        # the past or a resolution elsewhere in the message does not cancel a new emergency
        ("以前也摔过 今天又摔了 起不来", 6, "医", ("120",)),
        ("上个月摔了一跤现在又摔了爬不起来", 5, "医", ("120",)),
        ("火灭了 但是我爸被烟呛得喘不上气", 10, "医", ("120",)),
        ("我爸晕倒了 叫不醒了", 6, "医", ("120",)),
        # unsure stays urgent
        ("不知道是不是摔倒了 叫不应", 6, "医", ("120",)),
        ("怕他摔倒了 电话一直没人接", 6, "医", ("120",)),
        ("帮我买点米 另外我爸今天摔倒了起不来", 6, "医", ("120",)),
    ],
)
def test_urgent(text, month, category, numbers):
    """Emergencies however they are phrased, with the numbers to call."""
    result = classify(text, month)
    assert (result.urgency, result.category.value, result.emergency_numbers) == (Urgency.URGENT, category, numbers)


@pytest.mark.parametrize(
    "text",
    ["煤气灶打不着火了，做不了饭", "打火机点不着", "灶里的火熄了 点不着", "把炉子点着了", "烟囱冒烟", "想吃火锅",
     "火化的补贴在哪里申请", "刚才停电 吓得我以为着火了", "锅里冒烟了 菜炒糊了"],
)
def test_never_119_for_a_stove_or_a_word(text):
    """Whatever the month, no fire is no 119."""
    assert all("119" not in classify(text, month).emergency_numbers for month in range(1, 13))


def test_every_table_row_names_known_values():
    """A typo in a table would silently file or advise wrongly."""
    categories = {c.value for c in RequestCategory}
    sign_rows = (*policy.URGENT_SIGNS, *policy.WINTER_URGENT_SIGNS, *policy.GENERIC_URGENT_SIGNS,
                 *policy.WHOLE_CLAUSE_SIGNS)
    listed = [phrase for _, _, phrases in sign_rows for phrase in phrases]
    assert not {phrase for phrase in listed if listed.count(phrase) > 1}, "a sign listed twice may file two ways"
    for category, numbers, phrases in sign_rows:
        assert category in categories
        assert {n for n in numbers.split("|") if n} <= {"120", "110", "119"}
        for phrase in phrases:
            parts = phrase.split("…")
            assert len(parts) <= 2 and all(parts), phrase
    for category, _ in (*policy.CATEGORY_DECISIVE_WORDS, *policy.CATEGORY_KEYWORDS):
        assert category in categories
    word_lists = (policy.LOOK_ALIKES, policy.PAST_MARKERS, policy.HYPOTHETICAL_MARKERS, policy.RESOLVED_MARKERS,
                  policy.CLAUSE_STARTERS, policy.CATEGORY_NEUTRAL_WORDS, policy.PEOPLE)
    assert all(word and "…" not in word for words in word_lists for word in words)


def _rows(*rows: str) -> list[LabelledMessage]:
    return parse_corpus((HEADER + "".join(row + "\n" for row in rows)).splitlines(keepends=True))


def test_metrics_count_what_they_say():
    """Precision, recall, accuracy and harmful advice on a tiny corpus with a classifier that always cries fire."""
    messages = _rows("着火了,1,住,119,6,", "灶打不着火,0,住,,6,", "低保怎么申请,0,政策,,6,", "摔倒了,1,医,120,6,")

    def fire(text: str, month: int) -> Classification:
        return Classification(RequestCategory.HOUSING, Urgency.URGENT, ("119",))

    result = evaluate(messages, fire)
    urgent, normal = result.score("urgent"), result.score("normal")
    assert (urgent.precision, urgent.recall) == (0.5, 1.0)
    assert (normal.precision, normal.recall) == (None, 0.0)
    assert result.category_accuracy == 0.5
    assert (result.score("119").precision, result.score("119").recall) == (0.25, 1.0)
    assert result.harmful == {"120": 0, "110": 0, "119": 3}
    assert result.score("120").recall == 0.0
    assert len(result.errors) == 3
    assert result.missed_targets() == [
        "urgent precision 0.500 < 0.90", "category accuracy 0.500 < 0.85", "119 advised without fire 3 times",
    ]


@pytest.mark.parametrize(
    "row, message",
    [
        ("你好,2,其他,,6,", "urgent must be 1 or 0"),
        ("你好,0,闲聊,,6,", "闲聊"),
        ("救命,1,其他,999,6,", "unknown emergency number"),
        ("你好,0,其他,,13,", "month must be 1-12"),
    ],
)
def test_a_bad_row_is_refused_with_its_line(row, message):
    """The corpus is checked as it is read; the error names the line."""
    with pytest.raises(CorpusError, match=f"line 3: .*{message}"):
        _rows("你好,0,其他,,6,", row)


def test_cli_eval_prints_the_table_for_the_repository_corpus():
    """`sanzhida classifier eval` finds the corpus, prints every label and meets the targets."""
    result = CliRunner().invoke(main, ["classifier", "eval"])
    assert result.exit_code == 0, result.output
    assert "classifier_corpus.csv" in result.output
    for label in ("urgent", "normal", *(c.value for c in CLASSIFIED_CATEGORIES), "120", "110", "119", "accuracy"):
        assert label in result.output
    assert "All targets met." in result.output
    assert "Misclassified" not in result.output


def test_cli_eval_lists_errors_and_fails_when_a_target_is_missed(tmp_path):
    """--errors names each misclassified message; a missed target exits 1."""
    corpus = tmp_path / "corpus.csv"
    corpus.write_text(HEADER + "煤气灶打不着火了,1,住,119,6,deliberately wrong label\n低保怎么申请,0,政策,,6,\n",
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["classifier", "eval", "--corpus", str(corpus), "--errors"])
    assert result.exit_code == 1
    assert "Misclassified (1 of 2)" in result.output
    assert "line 2" in result.output and "煤气灶打不着火了" in result.output and "deliberately wrong label" in result.output
    assert "urgency urgent → normal" in result.output
    assert "targets missed: urgent recall" in result.output


def test_cli_eval_refuses_a_broken_corpus(tmp_path):
    """A corpus without the label columns is refused with a message, not a traceback."""
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text\n你好\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["classifier", "eval", "--corpus", str(corpus)])
    assert result.exit_code == 1
    assert "lacks column(s): urgent, category, numbers, month" in result.output


def test_the_default_corpus_is_looked_for_under_the_given_roots(tmp_path):
    """From the repository root the corpus is found; elsewhere there is none and --corpus is needed."""
    assert default_corpus([CORPUS.parents[2]]) == CORPUS
    assert default_corpus([tmp_path]) is None
