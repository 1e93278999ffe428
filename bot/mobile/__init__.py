"""Phone pages opened from pushes: `/m/list/<token>`, a summary's whole list for its recipient.

A template message holds five short fields, so a push about several cases or visits links here.
The link is signed, expires, and names its recipient (`services.summary_links`); the page reads
the list fresh, within the recipient's scope when it is opened (`services.summary_lists`).
No sign-in and no cookies: the token is the key, so the page is never cached or indexed.

`/m/cases/<n>`, the case page a task push opens, needs a member of staff: WeChat web
authorisation signs them in (`signin`, `/m/oauth`); the page, its actions and its files
(`/m/media/<id>`) are in `cases`. `/m/log`, logging a request on a beneficiary's behalf (代办)
from the phone, is in `on_behalf`.

`bp` is created in `views`; importing each module registers its routes on it.
"""

from bot.mobile import cases, on_behalf, signin
from bot.mobile.views import bp

__all__ = ["bp", "cases", "on_behalf", "signin"]
