"""The city's people: beneficiaries with their categories, assistants and family on WeChat; their visits.

Two phases of a city seed run, after the places and staff (`demo_city`) and before the cases
(`demo_city_cases`). Beneficiaries get valid ID numbers and unique bind codes, and are visited
about as often as their categories require; visits that find a problem are kept on the run so
that a case can be opened for each, as the app does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from devtools import demo
from devtools.demo_city_run import CHUNK, CITY_CODE, CityRun, Person, chunks
from models import Assignment, Beneficiary, BeneficiaryCategoryLink, FamilyLink, Visit, WeChatUser
from models.enums import BeneficiaryCategory, CheckResult, Relation
from services import roster
from services import visits as visit_service
from services.policy import id_number
from services.policy import visits as schedule
from services.visits import CHECK_LABEL

COMMUNITY_ROADS = ("幸福路", "建设路", "文化街", "新华巷", "人民路", "园林路", "滨江路")
VISIT_NOTES = ("身体还好", "精神不错", "子女上周回来过", "需要多关注", "天冷了，提醒注意保暖")


def write_beneficiaries(run: CityRun) -> None:
    """Beneficiaries with valid ID numbers, categories, one assistant each, some with family on WeChat."""
    rng, shape = run.rng("beneficiaries"), run.shape
    taken, codes = set(), set()  # first 17 digits of ID numbers given out; bind codes
    today = run.now.astimezone(run.tz).date()
    order = [i for i, v in enumerate(run.villages) for _ in range(v.beneficiaries)]
    written = {"beneficiaries": 0, "family links": 0}
    for chunk in chunks(order, CHUNK):
        people, users, links, rows, cats_rows, assignments = [], [], [], [], [], []
        for beneficiary_id, v in zip(run.ids(Beneficiary, len(chunk)), chunk, strict=True):
            village = run.villages[v]
            cats = demo._categories(rng)
            child = BeneficiaryCategory.LIUSHOU_CHILD in cats or BeneficiaryCategory.ORPHAN in cats
            age = rng.randint(6, 15) if child else rng.randint(58, 92)
            born = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
            while True:
                first17 = f"{CITY_CODE}{born:%Y%m%d}{rng.randrange(1000):03d}"
                if first17 not in taken:
                    taken.add(first17)
                    break
            id_no = first17 + id_number.check_digit(first17)
            while (code := roster.new_bind_code(rng)) in codes:
                pass
            codes.add(code)
            if village.is_community:
                address = f"{village.name}{rng.choice(COMMUNITY_ROADS)}{rng.randint(1, 99)}号{rng.randint(1, 12)}栋"
            else:
                address = f"{village.name}{rng.choice(demo.STREETS)}{rng.randint(1, 60)}号"
            since = run.now - timedelta(days=rng.randint(20, 900), minutes=rng.randint(0, 600))
            staff_id = rng.choice(village.assistants)
            rows.append((beneficiary_id, demo._name(rng), village.id, address,
                         None if child else demo._phone(rng), run.pii.encrypt(id_no), run.pii.lookup_hash(id_no),
                         code, True, schedule.frequency_days(cats), since, since))
            cats_rows.extend((beneficiary_id, c.value) for c in cats)
            assignments.append((run.ids(Assignment, 1)[0], beneficiary_id, staff_id, since))
            user_id = family_since = None
            if rng.random() < shape.family_share:
                user_id = run.ids(WeChatUser, 1)[0]
                family_since = min(since + timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 900)),
                                   run.now - timedelta(hours=1))
                relation = Relation.RELATIVE if child else rng.choices(
                    (Relation.CHILD, Relation.SELF, Relation.SPOUSE, Relation.RELATIVE, Relation.NEIGHBOUR),
                    (70, 10, 5, 10, 5),
                )[0]
                users.append((user_id, f"demo-family-{user_id:06d}", True, family_since, family_since))
                links.append((run.ids(FamilyLink, 1)[0], beneficiary_id, user_id, relation.value,
                              rng.random() < 0.9, True, family_since))
            people.append(Person(beneficiary_id, v, staff_id, since, schedule.frequency_days(cats),
                                  user_id, family_since))
        run.people.extend(people)
        run.writer.write(
            WeChatUser.__table__, ("id", "openid", "subscribed", "subscribed_at", "created_at"), users
        )
        written["beneficiaries"] += run.writer.write(
            Beneficiary.__table__,
            ("id", "name", "village_id", "address", "phone", "id_number_encrypted", "id_number_hash",
             "bind_code", "active", "visit_every_days", "created_at", "updated_at"),
            rows,
        )
        run.writer.write(BeneficiaryCategoryLink.__table__, ("beneficiary_id", "category"), cats_rows)
        written["family links"] += run.writer.write(
            FamilyLink.__table__,
            ("id", "beneficiary_id", "wechat_user_id", "relation", "notify", "active", "created_at"),
            links,
        )
        run.writer.write(Assignment.__table__, ("id", "beneficiary_id", "staff_id", "started_at"), assignments)
        if written["beneficiaries"] < shape.beneficiaries:
            run.report("beneficiaries", written["beneficiaries"])
    run.done("beneficiaries", written["beneficiaries"])
    run.done("family links", written["family links"])


def write_visits(run: CityRun) -> None:
    """The last few 四查 visits of each beneficiary, about as often as their categories require."""
    rng, shape = run.rng("visits"), run.shape
    today = run.now.astimezone(run.tz).date()
    low, high = shape.visits_per_beneficiary
    columns = ("id", "beneficiary_id", "staff_id", "visited_at", "food", "food_note", "clothing", "clothing_note",
               "housing", "housing_note", "medical", "medical_note", "helped_daily_care", "helped_shopping",
               "helped_contact_family", "helped_policy", "notes", "created_at")
    ok = CheckResult.OK.value
    total = 0

    def rows_for(people: list[Person]) -> Iterator[tuple]:
        """Visit rows for these people, noting on the run the visits that found a problem."""
        for person in people:
            # Most are visited on time; a quarter or so are somewhat overdue, as in life.
            days_ago = rng.uniform(0, person.every * 1.3)
            for _ in range(rng.randint(low, high)):
                at = demo._working_time(rng, today - timedelta(days=int(days_ago)), run.tz)
                if at > run.now:
                    at -= timedelta(days=1)
                if at < person.since:
                    break
                checks = {name: None for name in CHECK_LABEL}
                problems = {}
                if rng.random() < shape.visit_problem_rate:
                    for name in rng.sample(sorted(CHECK_LABEL), 2 if rng.random() < 0.1 else 1):
                        problems[name] = checks[name] = rng.choice(demo.VISIT_PROBLEMS[name])
                visit_id = run.ids(Visit, 1)[0]
                if problems:
                    run.problem_visits.append((visit_id, person, at, problems))
                yield (
                    visit_id, person.id, person.staff_id, at,
                    *(x for name in ("food", "clothing", "housing", "medical")
                      for x in ((CheckResult.PROBLEM.value if checks[name] else ok), checks[name])),
                    rng.random() < 0.35, rng.random() < 0.25, rng.random() < 0.15, rng.random() < 0.2,
                    rng.choice(VISIT_NOTES) if rng.random() < 0.05 else None,
                    at,
                )
                days_ago += max(person.every + rng.uniform(-2, 2), 3)

    for people in chunks(run.people, 2 * CHUNK):
        total += run.writer.write(Visit.__table__, columns, rows_for(people))
        if total and people[-1] is not run.people[-1]:
            run.report("visits", total)
    visit_service.refresh_last_visits(run.writer.session)
    run.done("visits", total)
