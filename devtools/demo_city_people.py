"""The city's people: beneficiaries with their categories, assistants and family on WeChat, and
their seven months of 四查四帮 visits.

A phase of a city seed run, after the places and staff (`demo_city`) and before the cases
(`demo_city_cases`). Beneficiaries get valid ID numbers and unique bind codes; each village's
people are shared among its assistants by their shares (one carries most in a few villages). Each
person is visited on their plan as `demo_history` describes, as well as their town keeps to it;
the people of an assistant who left are not visited since. The visits are made with the people,
a batch at a time, so each person's `last_visited_at` is written with them; visits that find a
problem are kept on the run so that a case can be opened for each, as the app does.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from devtools import demo, demo_checkins, demo_city_checkins
from devtools import demo_history as history
from devtools.demo_city_run import CHUNK, CITY_CODE, CityRun, Person, Village, chunks
from models import Assignment, Beneficiary, BeneficiaryCategoryLink, Checkin, FamilyLink, Silence, Visit, WeChatUser
from models.enums import BeneficiaryCategory, CheckinPlan, CheckResult, Relation
from services import roster
from services.policy import id_number
from services.policy import visits as schedule

COMMUNITY_ROADS = ("幸福路", "建设路", "文化街", "新华巷", "人民路", "园林路", "滨江路")
VISIT_COLUMNS = ("id", "beneficiary_id", "staff_id", "visited_at", "food", "food_note", "clothing", "clothing_note",
                 "housing", "housing_note", "medical", "medical_note", "helped_daily_care", "helped_shopping",
                 "helped_contact_family", "helped_policy", "notes", "created_at")
CHECKS = ("food", "clothing", "housing", "medical")  # the visit service's checks, in the table's order
OK = CheckResult.OK.value
PROBLEM = CheckResult.PROBLEM.value
# 四帮 at a visit, out of 256 (one random byte each): daily care and calls home for those living
# alone, shopping for all, policy for 低保 and 特困 families.
ALONE = {BeneficiaryCategory.TEKUN, BeneficiaryCategory.LIUSHOU_ELDERLY}
POLICY = {BeneficiaryCategory.DIBAO, BeneficiaryCategory.TEKUN}


def write_beneficiaries(run: CityRun) -> None:
    """Beneficiaries with valid ID numbers, categories, one assistant each, some with family on WeChat,
    each one's visits, and the check-ins of those on a plan."""
    rng, shape = run.rng("beneficiaries"), run.shape
    visit_rng = run.rng("visits")
    # Living alone, plans and check-ins draw from streams of their own.
    plan_rng, checkin_rng = run.rng("plans"), run.rng("checkins")
    days = demo_city_checkins.days_of(run)
    taken, codes = set(), set()  # first 17 digits of ID numbers given out; bind codes
    today = run.now.astimezone(run.tz).date()
    order = [i for i, v in enumerate(run.villages) for _ in range(v.beneficiaries)]
    late = [run.window.late_chances(keeps) for keeps in run.keeps_to_plan]
    written = {"beneficiaries": 0, "family links": 0, "visits": 0, "checkins": 0, "silences": 0}

    handed: dict[int, list[int]] = {}  # village index -> its assistants, one entry per person still to place
    for chunk in chunks(order, CHUNK):
        people, users, links, rows, cats_rows, assignments, visits = [], [], [], [], [], [], []
        checkin_rows, silence_rows = [], []
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
            if v not in handed:
                handed[v] = _hand_out(rng, village)
            staff_id = handed[v].pop()
            every = schedule.frequency_days(cats)
            cats_rows.extend((beneficiary_id, c.value) for c in cats)
            assignments.append((run.ids(Assignment, 1)[0], beneficiary_id, staff_id, since))
            alone = demo_checkins.lives_alone(plan_rng, [c.value for c in cats], child)
            plan, by_staff = demo_checkins.plan_for(plan_rng, [c.value for c in cats], alone)
            user_id = family_since = None
            notify = False
            # Whoever is asked to check in has someone on WeChat to do it with: the assistant sees to
            # it (the person themselves, or a child) when the plan starts.
            if rng.random() < shape.family_share or plan != CheckinPlan.OFF.value:
                user_id = run.ids(WeChatUser, 1)[0]
                family_since = min(since + timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 900)),
                                   run.now - timedelta(hours=1))
                relation = Relation.RELATIVE if child else rng.choices(
                    (Relation.CHILD, Relation.SELF, Relation.SPOUSE, Relation.RELATIVE, Relation.NEIGHBOUR),
                    (70, 10, 5, 10, 5),
                )[0]
                users.append((user_id, f"demo-family-{user_id:06d}", True, family_since, family_since))
                notify = rng.random() < 0.9
                links.append((run.ids(FamilyLink, 1)[0], beneficiary_id, user_id, relation.value,
                              notify, True, family_since))
            person = Person(beneficiary_id, v, staff_id, since, every, user_id, family_since, run.left.get(staff_id))
            times = _visits(run, visit_rng, person, set(cats), late[village.town_index], visits)
            people.append(person)
            name = demo._name(rng)
            signs = demo_city_checkins.person_checkins(run, checkin_rng, person, name, plan, notify, times, days,
                                                       checkin_rows, silence_rows)
            rows.append((beneficiary_id, name, village.id, address,
                         None if child else demo._phone(rng), run.pii.encrypt(id_no), run.pii.lookup_hash(id_no),
                         code, True, every, times[-1] if times else None, since, since, alone, plan, by_staff,
                         signs.last_checkin_at, signs.last_contact_at, signs.last_contact_kind))
        run.people.extend(people)
        run.writer.write(
            WeChatUser.__table__, ("id", "openid", "subscribed", "subscribed_at", "created_at"), users
        )
        written["beneficiaries"] += run.writer.write(
            Beneficiary.__table__,
            ("id", "name", "village_id", "address", "phone", "id_number_encrypted", "id_number_hash",
             "bind_code", "active", "visit_every_days", "last_visited_at", "created_at", "updated_at",
             "lives_alone", "checkin_plan", "checkin_plan_by_staff", "last_checkin_at", "last_contact_at",
             "last_contact_kind"),
            rows,
        )
        run.writer.write(BeneficiaryCategoryLink.__table__, ("beneficiary_id", "category"), cats_rows)
        written["family links"] += run.writer.write(
            FamilyLink.__table__,
            ("id", "beneficiary_id", "wechat_user_id", "relation", "notify", "active", "created_at"),
            links,
        )
        run.writer.write(Assignment.__table__, ("id", "beneficiary_id", "staff_id", "started_at"), assignments)
        written["visits"] += run.writer.write(Visit.__table__, VISIT_COLUMNS, visits)
        written["checkins"] += run.writer.write(Checkin.__table__, demo_city_checkins.CHECKIN_COLUMNS,
                                                demo_city_checkins.with_ids(run, checkin_rows))
        written["silences"] += run.writer.write(Silence.__table__, demo_city_checkins.SILENCE_COLUMNS, silence_rows)
        if written["beneficiaries"] < shape.beneficiaries:
            run.report("beneficiaries", written["beneficiaries"])
    run.done("beneficiaries", written["beneficiaries"])
    run.done("family links", written["family links"])
    run.done("visits", written["visits"])
    run.done("checkins", written["checkins"])
    run.done("silences", written["silences"])


def _hand_out(rng: random.Random, village: Village) -> list[int]:
    """The village's assistants, one entry per person, by their shares, in a random order."""
    total = sum(village.shares)
    exact = [village.beneficiaries * s / total for s in village.shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: village.beneficiaries - sum(counts)]:
        counts[i] += 1
    handed = [staff for staff, n in zip(village.assistants, counts, strict=True) for _ in range(n)]
    rng.shuffle(handed)
    return handed


def _visits(run: CityRun, rng: random.Random, person: Person, cats: set, late: list[float],
            out: list[tuple]) -> list[datetime]:
    """Add the person's visit rows to `out`; returns their times, in order."""
    window = run.window
    until = window.days if person.left_at is None else window.index(person.left_at) - 3
    days = history.visit_days(rng, person.every, late, window.weekdays, window.index(person.since), until)
    # Thresholds out of 256 for the four kinds of help.
    care = 110 if cats & ALONE else 60
    family = 80 if cats & ALONE or BeneficiaryCategory.LIUSHOU_CHILD in cats else 20
    policy = 60 if cats & POLICY else 30
    problem_rate = run.shape.visit_problem_rate
    mornings, since, now = window.mornings, person.since, run.now
    times = [at for at in (mornings[day] + _WORKING_MINUTES[int(540 * rng.random())] for day in days)
             if since <= at <= now]
    for visit_id, at in zip(run.ids(Visit, len(times)), times):
        bits = rng.getrandbits(40)
        if rng.random() < problem_rate:
            checks = _problems(rng, at, run)
            run.problem_visits.append((visit_id, person, at, checks))
            found = [(PROBLEM, checks[c]) if c in checks else (OK, None) for c in CHECKS]
        else:
            found = _ALL_FINE
        out.append((
            visit_id, person.id, person.staff_id, at, *found[0], *found[1], *found[2], *found[3],
            (bits & 255) < care, (bits >> 8 & 255) < 64, (bits >> 16 & 255) < family, (bits >> 24 & 255) < policy,
            history.VISIT_NOTES[(bits >> 32) % len(history.VISIT_NOTES)] if (bits >> 35 & 31) == 0 else None,
            at,
        ))
    return times


_ALL_FINE = ((OK, None),) * 4
# 08:30 to 17:29 as offsets from 08:00, a minute apart: visits are noted to the minute.
_WORKING_MINUTES = tuple(timedelta(minutes=30 + m) for m in range(540))


def _problems(rng: random.Random, at: datetime, run: CityRun) -> dict[str, str]:
    """What a visit found: one check (now and then two), clothes in the cold, roofs in the rain."""
    seasons = history.season_of(at.astimezone(run.tz).month)
    weights = [3 if history.PROBLEM_SEASON.get(c) in seasons else 1 for c in CHECKS]
    found = {rng.choices(CHECKS, weights)[0]}
    if rng.random() < 0.1:
        found.add(rng.choice(CHECKS))
    return {c: rng.choice(history.VISIT_PROBLEMS[c]) for c in CHECKS if c in found}

