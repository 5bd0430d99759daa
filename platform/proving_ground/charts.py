"""Plotly.js for every pillar's charts, served from the installed plotly package
(no CDN) and set up to run under the strict Content-Security-Policy.

Templates call ``{{ plotly_head() }}`` in the page head and ``{{ plotly_script() }}``
before their own chart scripts (macros in ``core/_plotly.html``, given to every
template by :func:`init_app`).
"""

import functools
import importlib.metadata
import importlib.util
import re
from pathlib import Path

from flask import Blueprint, Flask, send_file

from proving_ground.access import ANY_ROLE, roles_required

PLOTLY_JS = (
    Path(importlib.util.find_spec("plotly").origin).parent
    / "package_data"
    / "plotly.min.js"
)
PLOTLY_VERSION = importlib.metadata.version("plotly")
ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("charts", __name__)


@functools.cache
def plotly_style_ids() -> tuple[str, ...]:
    """Ids of the <style> elements Plotly.js adds when it loads unless an element
    with that id exists (MapLibre's CSS, for map traces no page draws). The CSP
    refuses such elements; placeholders with these ids avoid the attempt."""
    bundle = PLOTLY_JS.read_text(encoding="utf-8")
    pattern = (
        r'if\(!document\.getElementById\("([^"]+)"\)\)'
        r'\{var \w+=document\.createElement\("style"\)'
    )
    return tuple(re.findall(pattern, bundle))


@bp.route("/vendor/plotly.min.js")
@roles_required(ANY_ROLE)
def plotly_js():
    """Plotly.js as shipped inside the plotly Python package."""
    return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=ONE_YEAR)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def plotly_globals() -> dict:
        return {
            "plotly_version": PLOTLY_VERSION,
            "plotly_style_ids": plotly_style_ids(),
        }
