"""ID numbers at rest: encrypted, findable by keyed hash, unreadable with another key."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from models import Beneficiary
from models.enums import BeneficiaryCategory, RegionLevel
from services import roster
from services.pii import PiiCipher

ID_NO = "11010519491231002X"


def test_roundtrip_and_hash():
    """Decrypting gives the normalised number back; the hash ignores case and spaces."""
    cipher = PiiCipher("k" * 40)
    token = cipher.encrypt("110105 19491231002x")
    assert ID_NO not in token
    assert cipher.decrypt(token) == ID_NO
    assert cipher.lookup_hash(ID_NO) == cipher.lookup_hash("110105 19491231002x")


def test_another_key_can_neither_read_nor_match():
    """A different PII_KEY cannot decrypt, and hashes differently."""
    one, other = PiiCipher("a" * 40), PiiCipher("b" * 40)
    with pytest.raises(ValueError):
        other.decrypt(one.encrypt(ID_NO))
    assert one.lookup_hash(ID_NO) != other.lookup_hash(ID_NO)


def test_the_database_never_holds_the_number_in_clear(session, clock):
    """A stored beneficiary's row has neither the number nor its digits in any column."""
    cipher = PiiCipher("k" * 40)
    city = roster.create_region(session, code="1", name="市", level=RegionLevel.CITY, parent=None, now=clock())
    town = roster.create_region(session, code="2", name="镇", level=RegionLevel.TOWN, parent=city, now=clock())
    village = roster.create_region(session, code="3", name="村", level=RegionLevel.VILLAGE, parent=town, now=clock())
    person = roster.create_beneficiary(
        session, cipher, name="张三", village=village, categories=[BeneficiaryCategory.DIBAO], now=clock(), id_no=ID_NO
    )
    session.commit()
    row = session.execute(text("SELECT * FROM beneficiaries WHERE id = :id"), {"id": person.id}).mappings().one()
    assert not any(ID_NO[:17] in str(value) for value in row.values())
    found = session.scalars(select(Beneficiary).where(Beneficiary.id_number_hash == cipher.lookup_hash(ID_NO))).one()
    assert cipher.decrypt(found.id_number_encrypted) == ID_NO


def test_an_invalid_number_is_refused_without_echoing_it(session, clock):
    """A wrong check digit is refused; the error does not repeat the number."""
    city = roster.create_region(session, code="1", name="市", level=RegionLevel.CITY, parent=None, now=clock())
    town = roster.create_region(session, code="2", name="镇", level=RegionLevel.TOWN, parent=city, now=clock())
    village = roster.create_region(session, code="3", name="村", level=RegionLevel.VILLAGE, parent=town, now=clock())
    with pytest.raises(roster.RosterError) as raised:
        roster.create_beneficiary(
            session, PiiCipher("k" * 40), name="李四", village=village,
            categories=[BeneficiaryCategory.DIBAO], now=clock(), id_no="110105194912310021",
        )
    assert "110105194912310021" not in str(raised.value)
