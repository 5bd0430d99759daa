"""The ``proving-ground`` console script: the same as ``flask --app proving_ground``."""

from flask.cli import FlaskGroup

from proving_ground import create_app


def main() -> None:
    FlaskGroup(create_app=create_app, help="Proving Ground (练兵场).").main(
        prog_name="proving-ground"
    )
