"""Asset library demo data: the facet vocabularies and synonym table of
``vocabularies.json``, and the 227 bilingual assets of ``demo_assets.jsonl``
(mostly Chinese, some English and mixed; 44 with evidence, two of them from the
demo experiments), published, with a few drafts, usage marks and ratings.

``proving-ground demo load`` sends ``demo_data_requested``; :func:`load_demo`
answers it.
"""

import random
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from asset_library import services
from asset_library.models import Asset
from proving_ground.db import db
from proving_ground.signals import demo_data_requested

ASSETS = Path(__file__).with_name("demo_assets.jsonl")
SEED = 20261127
OWNERS = (
    "manager.east@demo.proving-ground.cn",
    "manager.south@demo.proving-ground.cn",
)
READERS = (
    "rep.zhang@demo.proving-ground.cn",
    "rep.liu@demo.proving-ground.cn",
    "manager.east@demo.proving-ground.cn",
)
#: Every this-many-th asset stays a draft or in review (the rest are published).
DRAFT_EVERY = 25
OUTCOMES = (
    "用在本周两次客户拜访，客户接受了分阶段报价。",
    "Used it in a renewal call; the customer agreed to a QBR next month.",
    "按清单准备投标文件，这次没有漏项。",
    "",
)


@demo_data_requested.connect
def load_demo(sender, *, users, progress: Callable[[str], None], **_) -> int:
    """Add the asset library demo unless assets exist; returns how many records
    were created. Flushes only; the caller commits."""
    if db.session.scalar(sa.select(Asset.id).limit(1)) is not None:
        return 0
    progress("asset library: vocabularies and synonyms")
    created = services.seed_vocabularies()
    rng = random.Random(SEED)  # noqa: S311 (simulated demo data)
    lines = ASSETS.read_text(encoding="utf-8").splitlines()
    owners = [users[e] for e in OWNERS if e in users] or [None]
    progress(f"asset library: {len(lines)} assets")
    for number, line in enumerate(lines, start=1):
        owner = owners[number % len(owners)]
        report = services.import_lines(
            [line], actor=owner, publish=number % DRAFT_EVERY != 0
        )
        created += len(report.created)
    progress("asset library: usage and ratings")
    readers = [users[e] for e in READERS if e in users]
    assets = db.session.scalars(sa.select(Asset).order_by(Asset.id)).all()
    for asset in assets:
        for reader in readers:
            if rng.random() < 0.15:
                services.record_usage(asset, reader, "used", rng.choice(OUTCOMES))
            if rng.random() < 0.2:
                services.rate(asset, reader, rng.choice((3, 4, 4, 5, 5)))
        for _view in range(rng.randint(0, 40)):
            asset.views += 1
    db.session.flush()
    return created
