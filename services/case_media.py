"""What a case page shows beside its timeline: the media sent with it and the locations shared,
and the one media lookup the file routes use, narrowed to the viewer's scope like every dashboard query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import MediaItem, RequestEvent, ServiceRequest
from models.enums import MediaStatus
from services import scope as scoping
from services.scope import Scope

# Media a viewer can fetch now; pending and fetching are not kept yet, dead never will be.
READY = MediaStatus.STORED.value
NOT_YET = (MediaStatus.PENDING.value, MediaStatus.FETCHING.value)
GONE = MediaStatus.DELETED.value


@dataclass(frozen=True)
class Location:
    """A place the requester shared, as WeChat gave it (GCJ-02, as Chinese maps use)."""

    latitude: float
    longitude: float
    label: str
    at: datetime

    @property
    def map_url(self) -> str:
        """Amap's marker page for the place (opens in the phone's browser or map app)."""
        return f"https://uri.amap.com/marker?position={self.longitude:.6f},{self.latitude:.6f}"


def item_in_scope(session: Session, scope: Scope, item_id: int) -> MediaItem | None:
    """One media item, or None when it belongs to no case or to a case outside the scope."""
    cases = scoping.requests(scope, select(ServiceRequest.id))
    return session.scalars(
        select(MediaItem).where(MediaItem.id == item_id, MediaItem.request_id.in_(cases))
    ).one_or_none()


def locations(events: list[RequestEvent]) -> list[Location]:
    """Every location message on a timeline, oldest first (WeChat's Location_X is the latitude)."""
    found = []
    for event in events:
        place = (event.data or {}).get("location")
        if not place:
            continue
        try:
            latitude, longitude = float(place["x"]), float(place["y"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            found.append(Location(latitude, longitude, str(place.get("label") or ""), event.created_at))
    return found
