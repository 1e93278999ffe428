"""The civil-affairs office dashboard under /office: sign-in, the service map, the case board,
case and beneficiary pages, visit coverage, service figures, weekly trends and workload, the monthly
reports, the 包联 chain and duty rota, care cards, import/export and the audit log.
Server-rendered; every query is narrowed to the signed-in staff member's scope.

`bp` is created in `common`; importing each page module registers its routes on it.

Which pages read from the read replica (`bot.deps.read_session()`, DATABASE_REPLICA_URL): the case
board, the service map, visit coverage, the figures and trends pages, the exports and the figures of
a monthly report being made. Every other page, and every write (the sign-in check, each audit entry,
the report kept), uses the primary (`db_session()`): a case or beneficiary page must show the action
just taken, which a replica may not have received yet.
"""

from bot.office import (
    auth, cards, cases, checkins, figures, media, places, reports, responsibility, spreadsheets, throttle, trends,
)
from bot.office.common import bp

__all__ = ["bp", "auth", "cards", "cases", "checkins", "figures", "media", "places", "reports", "responsibility",
           "spreadsheets", "throttle", "trends"]
