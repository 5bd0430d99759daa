"""Certificate credentials: verification codes, Open Badges 3.0 export, QR codes.

Pure functions: no Flask, no database, no I/O. The services store the code and
the dates; the views turn them into a verification page, a printable certificate
(with :func:`qr_svg`) and a JSON download (with :func:`open_badge`).
"""

import secrets
import unicodedata
from datetime import UTC, datetime
from typing import NotRequired, TypedDict

import segno

#: Digits and capitals without the look-alikes 0/O, 1/I/L: 31 symbols, so a
#: 16-character code carries 16 × log2(31) ≈ 79 bits of randomness.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
CODE_GROUP = 4

#: Longest input :func:`normalise_code` looks at (a code with generous spacing).
_MAX_CODE_INPUT = 64

OB_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]

#: Printed size of the QR code in CSS pixels, before rounding to whole pixels
#: per module.
QR_TARGET_PX = 120


class Issuer(TypedDict):
    """The awarding organisation (an OB 3.0 ``Profile``)."""

    id: str
    name: str
    url: str


class Holder(TypedDict):
    """The person awarded the certificate."""

    #: A URI naming the holder: ``mailto:…`` or a URL.
    id: str
    name: str


class Achievement(TypedDict):
    """What the certificate is for (an OB 3.0 ``Achievement``)."""

    id: str
    name: str
    description: str
    #: Narrative of what it takes to earn it, Markdown allowed by the spec.
    criteria: str
    #: A value of the OB 3.0 AchievementType enumeration; "Certificate" if absent.
    achievement_type: NotRequired[str]


def new_code() -> str:
    """Return a fresh, unguessable verification code such as "K7QM-3XHD-9PTA-WR2F".

    Drawn with :mod:`secrets` from :data:`CODE_ALPHABET`; callers still rely on a
    unique constraint in the database for the (astronomically rare) collision.
    """
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return _group(symbols)


def normalise_code(text: str | None) -> str | None:
    """Return the canonical form of a typed verification code, or None if invalid.

    Accepts lower case, spaces, missing or misplaced dashes, any Unicode dash and
    full-width characters (as typed with a Chinese input method). Look-alikes
    (0/O, 1/I/L) are rejected rather than guessed, since neither side of each
    pair is in the alphabet.
    """
    if not text or len(text) > _MAX_CODE_INPUT:
        return None
    folded = unicodedata.normalize("NFKC", text)
    symbols = "".join(
        char
        for char in folded
        if not char.isspace() and unicodedata.category(char) != "Pd"
    )
    if not symbols.isascii():
        return None
    symbols = symbols.upper()
    if len(symbols) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in symbols):
        return None
    return _group(symbols)


def _group(symbols: str) -> str:
    return "-".join(
        symbols[start : start + CODE_GROUP]
        for start in range(0, len(symbols), CODE_GROUP)
    )


def open_badge(
    *,
    credential_url: str,
    issuer: Issuer,
    holder: Holder,
    achievement: Achievement,
    issued_at: datetime,
    expires_at: datetime | None,
) -> dict:
    """Return the certificate as an unsigned Open Badges 3.0 AchievementCredential.

    A JSON-serialisable dict following Open Badges 3.0 (1EdTech, Final), data
    model classes AchievementCredential, Achievement, AchievementSubject,
    Criteria, IdentityObject and Profile (https://www.imsglobal.org/spec/ob/v3p0/,
    data models appendix), over the W3C Verifiable Credentials
    Data Model 2.0 sections "Contexts", "Identifiers", "Types", "Issuer" and
    "Validity Period" (https://www.w3.org/TR/vc-data-model-2.0/):

    - ``validFrom`` is ``issued_at`` and ``validUntil`` is ``expires_at`` (absent
      when the certificate does not expire), both in UTC as
      ``YYYY-MM-DDTHH:MM:SSZ``;
    - ``credentialSubject.id`` is the holder's URI and the holder's name is an
      ``identifier`` IdentityObject with ``identityType`` "name" (the OB 3.0 way
      to carry an earner's name; AchievementSubject has no ``name`` property,
      see 1EdTech/openbadges-specification issue #537);
    - ``achievementType`` defaults to "Certificate".

    Revocation is not expressed in the document: neither spec has a "revoked"
    flag. Both use ``credentialStatus`` pointing to a published status list (the
    1EdTech Revocation List Status Method or a Bitstring Status List), which this
    platform does not publish. Status (valid, expired, revoked and the reason) is
    shown on the public verification page: make ``credential_url`` that page's
    URL, so anyone holding the JSON can check it.

    No ``proof`` is added, so this is a credential, not a *verifiable* one.

    Raises ValueError when a date is naive or ``expires_at`` precedes
    ``issued_at`` (VC 2.0 "Validity Period": validFrom not later than validUntil).
    """
    if expires_at is not None and _utc(expires_at) < _utc(issued_at):
        raise ValueError("expires_at is before issued_at")
    badge: dict = {
        "@context": list(OB_CONTEXT),
        "id": credential_url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": issuer["id"],
            "type": ["Profile"],
            "name": issuer["name"],
            "url": issuer["url"],
        },
        "validFrom": _timestamp(issued_at),
        "name": achievement["name"],
        "credentialSubject": {
            "id": holder["id"],
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": holder["name"],
                }
            ],
            "achievement": {
                "id": achievement["id"],
                "type": ["Achievement"],
                "name": achievement["name"],
                "description": achievement["description"],
                "criteria": {"narrative": achievement["criteria"]},
                "achievementType": achievement.get("achievement_type", "Certificate"),
            },
        },
    }
    if expires_at is not None:
        badge["validUntil"] = _timestamp(expires_at)
    return badge


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("credential dates must be timezone-aware")
    return moment.astimezone(UTC)


def _timestamp(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def qr_svg(url: str, *, title: str | None = None) -> str:
    """Return an inline ``<svg>`` QR code for ``url``, safe under a strict CSP.

    Error correction M (segno raises it to Q or H when that fits the same
    symbol), dark modules #111 on a transparent background, quiet zone
    included. No XML declaration, namespace, ``class`` or ``style`` attribute:
    the element carries a ``viewBox`` and ``width``/``height`` of about
    :data:`QR_TARGET_PX` px (a whole number of pixels per module, so it stays
    sharp on screen); CSS ``width``/``height`` on the element override them.

    ``title`` (e.g. a translated "Scan to verify") becomes the SVG ``<title>``,
    escaped, with ``role="img"``; without it the code is ``aria-hidden`` and the
    page should show the link as text.
    """
    qr = segno.make(url, error="m", micro=False)
    modules = qr.symbol_size(scale=1)[0]
    size = modules * max(1, round(QR_TARGET_PX / modules))
    svg = qr.svg_inline(
        dark="#111",
        light=None,
        svgclass=None,
        lineclass=None,
        omitsize=True,
        title=title,
    )
    accessibility = 'role="img"' if title else 'aria-hidden="true"'
    attributes = f'width="{size}" height="{size}" {accessibility} '
    return svg.replace("<svg ", f"<svg {attributes}", 1)
