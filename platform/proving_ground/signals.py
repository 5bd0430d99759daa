"""Signals through which the core and the pillars react to each other without
importing each other's models (blinker, as Flask itself uses)."""

from blinker import Namespace

_signals = Namespace()

#: Sent by ``proving-ground demo load`` after the demo users exist. Receivers add
#: their pillar's demo data idempotently and return how many records they created.
#: Keyword arguments: ``users`` (e-mail → User), ``progress`` (callable(str)).
demo_data_requested = _signals.signal("demo-data-requested")
