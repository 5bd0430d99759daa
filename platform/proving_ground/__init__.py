"""Proving Ground (练兵场)."""

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then ``PG_*`` environment variables, then ``config``.

    See :func:`proving_ground.app.create_app`. The pillars import the core's
    modules, so the factory module, which imports the pillars, is loaded only when
    an app is built: importing ``proving_ground.db`` from a pillar never pulls the
    pillars in half-loaded.
    """
    from proving_ground.app import create_app as build

    return build(config)
