"""The civil-affairs office dashboard under /office: sign-in, the service map, the case board,
case and beneficiary pages, visit coverage, service figures, weekly trends and workload, the monthly
reports, the 包联 chain and duty rota, care cards, import/export and the audit log.
Server-rendered; every query is narrowed to the signed-in staff member's scope.

`bp` is created in `common`; importing each page module registers its routes on it.
"""

from bot.office import (
    auth, cards, cases, checkins, figures, media, places, reports, responsibility, spreadsheets, throttle, trends,
)
from bot.office.common import bp

__all__ = ["bp", "auth", "cards", "cases", "checkins", "figures", "media", "places", "reports", "responsibility",
           "spreadsheets", "throttle", "trends"]
