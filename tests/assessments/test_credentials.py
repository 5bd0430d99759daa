import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
import segno

from assessments.credentials import (
    CODE_ALPHABET,
    new_code,
    normalise_code,
    open_badge,
    qr_svg,
)

CODE_PATTERN = re.compile(r"^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}$")
VERIFY_URL = "https://pg.example.org/certificates/verify/K7QM-3XHD-9PTA-WR2F"


# Verification codes


def test_alphabet_has_no_look_alikes():
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 31


def test_new_codes_are_well_formed_and_unique():
    codes = [new_code() for _ in range(10_000)]
    assert all(CODE_PATTERN.match(code) for code in codes)
    assert len(set(codes)) == len(codes)
    # Every symbol turns up: the draw covers the whole alphabet.
    assert set("".join(codes).replace("-", "")) == set(CODE_ALPHABET)


def test_new_code_is_its_own_normal_form():
    code = new_code()
    assert normalise_code(code) == code


@pytest.mark.parametrize(
    "typed",
    [
        "K7QM-3XHD-9PTA-WR2F",
        "k7qm-3xhd-9pta-wr2f",
        "K7QM3XHD9PTAWR2F",
        "  k7qm 3xhd 9pta wr2f ",
        "K7-QM3X-HD9P-TAWR2F",
        "K7QM–3XHD—9PTA-WR2F",  # en and em dashes
        "Ｋ７ＱＭ－３ＸＨＤ－９ＰＴＡ－ＷＲ２Ｆ",  # full-width, from a Chinese IME
        "K7QM\t3XHD\n9PTA\u00a0WR2F",
    ],
)
def test_normalise_code_accepts_what_people_type(typed):
    assert normalise_code(typed) == "K7QM-3XHD-9PTA-WR2F"


@pytest.mark.parametrize(
    "typed",
    [
        None,
        "",
        "   ",
        "K7QM-3XHD-9PTA-WR2",  # too short
        "K7QM-3XHD-9PTA-WR2FF",  # too long
        "K7QM-3XHD-9PTA-WR20",  # 0 is not in the alphabet
        "K7QM-3XHD-9PTA-WR2O",  # nor O
        "K7QM-3XHD-9PTA-WR21",  # nor 1
        "K7QM-3XHD-9PTA-WR2I",  # nor I
        "K7QM-3XHD-9PTA-WR2L",  # nor L
        "K7QM_3XHD_9PTA_WR2F",
        "K7QM-3XHD-9PTA-WR2É",
        "K7QM-3XHD-9PTA-WR2F" + " " * 100,
    ],
)
def test_normalise_code_rejects_invalid_input(typed):
    assert normalise_code(typed) is None


# Open Badges 3.0


def make_badge(**overrides):
    arguments = {
        "credential_url": VERIFY_URL,
        "issuer": {
            "id": "https://pg.example.org/",
            "name": "Proving Ground",
            "url": "https://pg.example.org/",
        },
        "holder": {"id": "mailto:ana@example.org", "name": "Ana Lima"},
        "achievement": {
            "id": "https://pg.example.org/assessments/exams/7",
            "name": "Data literacy",
            "description": "Reads, questions and presents data.",
            "criteria": "Pass the data-literacy exam (cut score 70%).",
        },
        "issued_at": datetime(2025, 3, 4, 9, 30, 15, 123456, tzinfo=UTC),
        "expires_at": datetime(2027, 3, 4, 9, 30, 15, tzinfo=UTC),
    }
    return open_badge(**(arguments | overrides))


def test_badge_has_the_required_fields():
    badge = make_badge()
    assert badge["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert badge["id"] == VERIFY_URL
    assert badge["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert badge["issuer"] == {
        "id": "https://pg.example.org/",
        "type": ["Profile"],
        "name": "Proving Ground",
        "url": "https://pg.example.org/",
    }
    assert badge["name"] == "Data literacy"
    subject = badge["credentialSubject"]
    assert subject["id"] == "mailto:ana@example.org"
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [
        {
            "type": "IdentityObject",
            "identityType": "name",
            "hashed": False,
            "identityHash": "Ana Lima",
        }
    ]
    assert subject["achievement"] == {
        "id": "https://pg.example.org/assessments/exams/7",
        "type": ["Achievement"],
        "name": "Data literacy",
        "description": "Reads, questions and presents data.",
        "criteria": {"narrative": "Pass the data-literacy exam (cut score 70%)."},
        "achievementType": "Certificate",
    }


def test_badge_dates_are_utc_with_z():
    badge = make_badge()
    assert badge["validFrom"] == "2025-03-04T09:30:15Z"
    assert badge["validUntil"] == "2027-03-04T09:30:15Z"


def test_badge_dates_are_converted_to_utc():
    beijing = timezone(timedelta(hours=8))
    badge = make_badge(
        issued_at=datetime(2025, 3, 4, 1, 0, tzinfo=beijing),
        expires_at=datetime(2026, 1, 1, 0, 0, tzinfo=beijing),
    )
    assert badge["validFrom"] == "2025-03-03T17:00:00Z"
    assert badge["validUntil"] == "2025-12-31T16:00:00Z"


def test_badge_without_expiry_has_no_valid_until():
    badge = make_badge(expires_at=None)
    assert "validUntil" not in badge
    assert badge["validFrom"] == "2025-03-04T09:30:15Z"


def test_badge_achievement_type_can_be_chosen():
    achievement = {
        "id": "https://pg.example.org/assessments/exams/8",
        "name": "Analyst licence",
        "description": "Licensed to publish analyses.",
        "criteria": "Pass the exam.",
        "achievement_type": "License",
    }
    badge = make_badge(achievement=achievement)
    assert badge["credentialSubject"]["achievement"]["achievementType"] == "License"


def test_badge_round_trips_through_json():
    badge = make_badge()
    assert json.loads(json.dumps(badge)) == badge


def test_badge_has_no_status_or_proof():
    badge = make_badge()
    assert "credentialStatus" not in badge
    assert "proof" not in badge


def test_badge_rejects_naive_dates():
    with pytest.raises(ValueError, match="timezone-aware"):
        make_badge(issued_at=datetime(2025, 3, 4, 9, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_badge(expires_at=datetime(2027, 3, 4, 9, 30))


def test_badge_rejects_expiry_before_issue():
    with pytest.raises(ValueError, match="before"):
        make_badge(expires_at=datetime(2024, 1, 1, tzinfo=UTC))


# QR code


def parse_svg(svg):
    """Parse our own generated SVG (trusted input, so the stdlib parser is fine)."""
    return ET.fromstring(svg)  # noqa: S314


def test_qr_svg_is_an_inline_svg_element():
    svg = qr_svg(VERIFY_URL)
    assert svg.startswith("<svg ")
    assert not svg.startswith("<?xml")
    root = parse_svg(svg)
    assert root.tag == "svg"
    assert root.find("path") is not None
    assert root.get("viewBox")
    assert root.get("aria-hidden") == "true"


def test_qr_svg_has_nothing_the_csp_forbids():
    svg = qr_svg(VERIFY_URL, title="Scan to verify")
    assert "style" not in svg
    assert "<script" not in svg
    assert "class=" not in svg
    for element in parse_svg(svg).iter():
        assert not any(name.startswith("on") for name in element.attrib)


def test_qr_svg_colours_and_size():
    root = parse_svg(qr_svg(VERIFY_URL))
    assert root.find("rect") is None  # transparent background
    assert {path.get("stroke") for path in root.iter("path")} == {"#111"}
    width, height = int(root.get("width")), int(root.get("height"))
    assert width == height
    assert 90 <= width <= 150
    modules = int(root.get("viewBox").split()[2])
    assert width % modules == 0  # whole pixels per module


def test_qr_svg_title_is_escaped():
    root = parse_svg(qr_svg(VERIFY_URL, title="Scan <me> & verify"))
    assert root.findtext("title") == "Scan <me> & verify"
    assert root.get("role") == "img"
    assert root.get("aria-hidden") is None


def test_qr_svg_draws_the_symbol_for_the_url():
    """Read the modules back from the path and compare with segno's matrix.

    No QR decoder is installed; this checks the SVG draws exactly the symbol
    segno encodes for the URL (same version, error level and mask).
    """
    root = parse_svg(qr_svg(VERIFY_URL))
    drawn = _modules_from_path(root.find("path").get("d"))
    expected = segno.make(VERIFY_URL, error="m", micro=False)
    border = 4
    assert drawn == {
        (x + border, y + border)
        for y, row in enumerate(expected.matrix)
        for x, dark in enumerate(row)
        if dark
    }
    assert expected.error in {"M", "Q", "H"}


def test_qr_svg_differs_by_url():
    assert qr_svg(VERIFY_URL) != qr_svg(VERIFY_URL.replace("K7QM", "K7QN"))


def _modules_from_path(d):
    """Dark modules (x, y) drawn by segno's "M x y h len m dx dy h len…" path."""
    modules = set()
    x = y = 0.0
    for command, dx, dy, length in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", d):
        if command == "M":
            x, y = float(dx), float(dy)
        else:
            x, y = x + float(dx), y + float(dy)
        row = int(y - 0.5)
        modules.update((int(x) + i, row) for i in range(int(length)))
        x += int(length)
    return modules
