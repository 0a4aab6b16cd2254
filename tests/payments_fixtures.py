from datetime import UTC, datetime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
# Monday 23 November 2026, 06:00 UTC: 01:00 in New York, before Bob's 09:00–12:00 window.
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
NINE_AM = datetime(2026, 11, 23, 9, 0, tzinfo=NEW_YORK)
