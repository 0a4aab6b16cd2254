"""News from sessions for the apps above them, which connect in their ``ready()``; sessions
never import them. Sent inside the transaction that made the change, so a receiver's writes
commit or roll back with it."""

from django.dispatch import Signal

# A checkout hold ran out (session=, now=): the order that held it expires.
hold_lapsed = Signal()

# A scheduled session was cancelled (session=, by=, now=): proposals to move it close.
session_cancelled = Signal()
