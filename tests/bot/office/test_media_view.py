"""The office case page plays a case's voice and shows its photo through /office/media/<id>: only
for a signed-in member of staff whose scope holds the case, every fetch audited, Range answered."""

from __future__ import annotations


import pytest
from sqlalchemy import select

from models import AuditEntry, Staff
from models.enums import RegionLevel, StaffRole
from services import accounts
from tests.support.case_media import WORDS, make_case_with_media
from tests.support.office import PASSWORD, signed_in
from tests.support.factories import fresh, make_beneficiary, make_region, make_staff, make_town



@pytest.fixture
def world(session, clock, app):
    """A town with a case that has a voice and a photo; a second town's officer; dashboard passwords."""
    town = make_town(session, clock())
    far_town = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    town.far_officer = make_staff(session, StaffRole.TOWN_OFFICER, far_town, clock(), name="孙丽")
    for staff in (town.assistant, town.officer, town.far_officer):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    svc = app.extensions["sanzhida"]
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    town.case = make_case_with_media(session, svc.request_env, svc.media_store, person, clock())
    session.commit()
    return town



def test_the_case_page_plays_the_voice_and_shows_the_photo(app, world):
    """An audio player on the MP3, the words beside it, and the photo, all through the office's own route."""
    page = signed_in(app, world.officer.staff_no).get(f"/office/cases/{world.case.request.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<audio controls preload="metadata" src="/office/media/{world.case.voice.id}?playable=1">' in html
    assert f'<img src="/office/media/{world.case.photo.id}"' in html
    assert f"“{WORDS}”" in html


def test_files_are_served_privately_with_range(app, world):
    """The stored bytes with their type, no-store, nosniff, inline; 206 for a Range."""
    client = signed_in(app, world.assistant.staff_no)
    store = app.extensions["sanzhida"].media_store
    mp3 = client.get(f"/office/media/{world.case.voice.id}?playable=1")
    assert mp3.status_code == 200 and mp3.mimetype == "audio/mpeg"
    assert mp3.data == store.get(world.case.voice.playable_key)
    assert mp3.headers["Cache-Control"] == "private, no-store"
    assert mp3.headers["X-Content-Type-Options"] == "nosniff"
    assert mp3.headers["Content-Disposition"] == "inline"
    part = client.get(f"/office/media/{world.case.voice.id}?playable=1", headers={"Range": "bytes=0-"})
    assert part.status_code == 206 and part.data == mp3.data
    photo = client.get(f"/office/media/{world.case.photo.id}")
    assert photo.mimetype == "image/png" and photo.data.startswith(b"\x89PNG")


def test_each_fetch_is_audited(app, world, session):
    """office.media entries naming the file and its case, the fetcher and their address."""
    client = signed_in(app, world.officer.staff_no)
    client.get(f"/office/media/{world.case.voice.id}?playable=1")
    client.get(f"/office/media/{world.case.photo.id}")
    fresh(session)
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "office.media").order_by(AuditEntry.id)).all()
    assert [(r.actor_staff_id, r.target_id, r.detail["request"]) for r in rows] == [
        (world.officer.id, world.case.voice.id, world.case.request.id),
        (world.officer.id, world.case.photo.id, world.case.request.id),
    ]
    assert all(r.ip for r in rows)


def test_outside_the_scope_or_signed_out_nothing_is_served(app, world, session):
    """Another town's officer: 404 for the page and the files, unaudited as a fetch; signed out: to the sign-in form."""
    far = signed_in(app, world.far_officer.staff_no)
    assert far.get(f"/office/cases/{world.case.request.id}").status_code == 404
    for path in (f"/office/media/{world.case.voice.id}?playable=1", f"/office/media/{world.case.photo.id}"):
        answer = far.get(path)
        assert answer.status_code == 404 and b"ID3" not in answer.data and b"PNG" not in answer.data
    fresh(session)
    assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "office.media")).all()
    stranger = app.test_client()
    answer = stranger.get(f"/office/media/{world.case.voice.id}?playable=1")
    assert answer.status_code == 302 and "/office/login" in answer.headers["Location"]


def test_an_office_sign_in_is_not_a_phone_sign_in(app, world):
    """The two sign-ins are kept apart: the office session does not open the phone's file route."""
    client = signed_in(app, world.officer.staff_no)
    assert client.get(f"/m/media/{world.case.voice.id}?playable=1").status_code == 401
    assert client.get(f"/office/media/{world.case.voice.id}?playable=1").status_code == 200
