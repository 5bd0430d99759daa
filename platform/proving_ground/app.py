"""The app factory: configuration, extensions and every blueprint."""

import os

from flask import Flask

import assessments.authoring
import assessments.item_analysis_views
import assessments.readiness_views
import assessments.simulation_views
import assessments.views
import asset_library.cli  # registers the "assets" commands
import asset_library.views
import experiments.views
from assessments import api as assessments_api
from assessments import demo as assessments_demo  # noqa: F401 (connects its signal)
from assessments import item_analysis_api, readiness_api, simulation_api
from asset_library import api as asset_library_api
from asset_library import demo as asset_library_demo  # noqa: F401 (connects its signal)
from experiments import api as experiments_api
from experiments import demo as experiments_demo  # noqa: F401 (connects its signal)
from proving_ground import (
    api,
    charts,
    cli,
    db,
    errors,
    i18n,
    limits,
    security,
    views,
)
from proving_ground.access import csrf, guard_request
from proving_ground.actions import views as action_views
from proving_ground.audit import api as audit_api
from proving_ground.audit import views as audit_views
from proving_ground.auth import api as auth_api
from proving_ground.auth import login
from proving_ground.auth import views as auth_views
from proving_ground.config import load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then ``PG_*`` environment variables, then ``config``.

    ``config`` may also hold ``INSTANCE_PATH`` (else ``PG_INSTANCE_PATH``, else
    Flask's ``instance/`` folder) and ``DATABASE_URL``.
    """
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get(
        "PG_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_path=instance_path)
    load_config(app, config)
    app.json.ensure_ascii = False  # Chinese stays readable in API responses

    security.init_app(app)
    db.init_app(app)
    login.init_app(app)
    csrf.init_app(app)
    app.before_request(guard_request)
    limits.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    charts.init_app(app)

    app.register_blueprint(views.bp)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(action_views.bp)
    app.register_blueprint(experiments.views.bp, url_prefix="/experiments")
    app.register_blueprint(assessments.views.bp, url_prefix="/assessments")
    app.register_blueprint(asset_library.views.bp, url_prefix="/library")
    api.api.register_blueprint(auth_api.users_api)
    api.api.register_blueprint(auth_api.tokens_api)
    api.api.register_blueprint(audit_api.audit_api)
    api.api.register_blueprint(experiments_api.metrics_api)
    api.api.register_blueprint(experiments_api.experiments_api)
    api.api.register_blueprint(experiments_api.events_api)
    api.api.register_blueprint(assessments_api.assessments_api)
    api.api.register_blueprint(simulation_api.simulations_api)
    api.api.register_blueprint(readiness_api.readiness_api)
    api.api.register_blueprint(item_analysis_api.exams_api)
    api.api.register_blueprint(asset_library_api.assets_api)
    return app
