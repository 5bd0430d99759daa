"""Signals through which the core and the pillars react to each other without
importing each other's models (blinker, as Flask itself uses)."""

from blinker import Namespace

_signals = Namespace()

#: Sent by ``proving-ground demo load`` after the demo users exist. Receivers add
#: their pillar's demo data idempotently and return how many records they created.
#: Keyword arguments: ``users`` (e-mail → User), ``progress`` (callable(str)).
demo_data_requested = _signals.signal("demo-data-requested")

#: Sent after every receiver of ``demo_data_requested`` has run (their order is
#: not defined), for demo figures derived from another pillar's data. Same
#: keyword arguments; receivers return how many records they created.
demo_data_loaded = _signals.signal("demo-data-loaded")

#: Sent when an experiment's owner records a decision. Keyword arguments:
#: ``experiment_key``, ``name``, ``hypothesis`` (one text), ``variant_description``
#: (the treatments, Markdown), ``decision`` (adopt/iterate/abandon), ``rationale``,
#: ``evidence`` (the primary metrics' results: metric, variant, lift, interval,
#: p-value, sample sizes), ``actor``. The asset library drafts a playbook from an
#: adoption.
experiment_decided = _signals.signal("experiment-decided")
