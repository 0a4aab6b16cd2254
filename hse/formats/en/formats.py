# How Django shows a date and time where we give no format of our own (the admin's lists
# and read-only fields): with the zone's abbreviation, so an admin never reads a bare time.
DATETIME_FORMAT = "D j M Y, H:i T"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
