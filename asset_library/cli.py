"""``proving-ground assets …``: import and export assets as JSON Lines (or
Markdown) and mark lapsed verifications."""

import json
import sys

import click

from asset_library import api, bp, services
from asset_library.models import AssetStatus
from proving_ground.auth import services as auth_services
from proving_ground.db import db

#: Lines per import batch; each batch is committed on its own.
BATCH = 100


@bp.cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--publish", is_flag=True, help="Publish the new assets.")
@click.option("--owner", metavar="EMAIL", help="Owner of the new assets.")
def import_assets(file, publish: bool, owner: str | None) -> None:
    """Import FILE (JSON Lines, one asset per line; ``-`` reads stdin). An id
    imported again adds a version to that asset. Good lines are kept; bad ones
    are reported by line number and make the command exit with status 1."""
    actor = None
    if owner:
        actor = auth_services.get_user_by_email(owner)
        if actor is None:
            raise click.UsageError(f"No user with e-mail {owner}.")
    lines = file.read().splitlines()
    created = updated = 0
    errors: list[dict] = []
    with click.progressbar(
        length=len(lines), label="Importing", file=sys.stderr
    ) as bar:
        for start in range(0, len(lines), BATCH):
            batch = lines[start : start + BATCH]
            report = services.import_lines(batch, actor=actor, publish=publish)
            db.session.commit()
            created += len(report.created)
            updated += len(report.updated)
            for error in report.errors:
                errors.append({**error, "line": error["line"] + start})
            bar.update(len(batch))
    click.echo(f"{created} created, {updated} updated, {len(errors)} line(s) refused.")
    for error in errors:
        problems = "; ".join(
            f"{field}: {' '.join(messages)}"
            for field, messages in error["fields"].items()
        )
        label = f" ({error['id']})" if error.get("id") else ""
        click.echo(f"line {error['line']}{label}: {problems}", err=True)
    if errors:
        sys.exit(1)


@bp.cli.command("export")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["jsonl", "markdown"]),
    default="jsonl",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: stdout).",
)
@click.option("--status", type=click.Choice([s.value for s in AssetStatus]))
@click.option(
    "--language",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Labels in Markdown.",
)
def export_assets(format_: str, out: str, status: str | None, language: str) -> None:
    """Export every asset (or those of --status) as JSON Lines in the import
    format, or as one Markdown document (assets separated by ---)."""
    assets = db.session.scalars(api.export_query(status)).unique()
    count = 0
    with click.open_file(out, "w", encoding="utf-8") as stream:
        for asset in assets:
            if format_ == "markdown":
                if count:
                    stream.write("\n---\n\n")
                stream.write(services.export_markdown(asset, language))
            else:
                record = services.export_record(asset)
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    if out != "-":
        click.echo(f"{count} asset(s) written to {out}.")


@bp.cli.command("lapse")
def lapse() -> None:
    """Mark published assets whose verification has lapsed as needing
    re-verification and give their owners an action item (run it daily)."""
    lapsed = services.lapse_verifications()
    db.session.commit()
    click.echo(f"{lapsed} asset(s) need re-verification.")
