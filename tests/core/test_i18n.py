"""zh-CN and English: negotiation, the switcher, and complete catalogues."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from support import post_form

from proving_ground.auth.models import User
from proving_ground.db import db

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "platform" / "proving_ground" / "translations"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
}


def test_accept_language_chooses_the_language(client):
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in zh.get_data(as_text=True)
    assert "登录" in zh.get_data(as_text=True)
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert '<html lang="en">' in en.get_data(as_text=True)
    assert "Sign in" in en.get_data(as_text=True)


def test_default_language_is_chinese(client):
    page = client.get("/login", headers={"Accept-Language": ""}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page


def test_switcher_before_sign_in(client):
    post_form(client, "/locale", {"locale": "en", "next": "/login"})
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "Sign in" in page


def test_switcher_is_remembered_per_user(app, login_as):
    client = login_as("member")
    response = post_form(client, "/locale", {"locale": "en", "next": "/account"})
    assert response.location == "/account"
    with app.app_context():
        assert db.session.get(User, client.user.id).locale == "en"
    # A new browser of the same user starts in English whatever it asks for.
    other = app.test_client()
    from support import login

    login(other, client.user.email)
    page = other.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Experiments" in page and '<html lang="en">' in page


def test_switcher_refuses_unknown_locales_and_foreign_redirects(client):
    response = post_form(
        client, "/locale", {"locale": "fr", "next": "https://evil.example"}
    )
    assert response.location == "/"


@pytest.mark.parametrize("status", [403, 404])
def test_error_pages_in_both_languages(login_as, status):
    client = login_as("member")
    url = "/admin/users" if status == 403 else "/no-such-page"
    zh = client.get(url, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == status
    post_form(client, "/locale", {"locale": "en"})
    en = client.get(url, headers={"Accept-Language": "zh-CN"})  # the choice wins
    assert en.status_code == status
    assert zh.get_data(as_text=True) != en.get_data(as_text=True)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.get_data(as_text=True))


def _source_messages() -> set[str]:
    found = set()
    method_map = [
        ("**/templates/**.html", "jinja2"),
        ("**.py", "python"),
    ]
    for folder in ("platform", "experiments", "assessments", "asset_library"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / folder, method_map, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("locale", ["zh_Hans_CN", "en"])
def test_catalogue_is_complete_and_compiled(locale):
    po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id
        and not m.fuzzy
        and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    missing = _source_messages() - translated
    assert not missing, f"untranslated in {locale}: {sorted(missing)[:10]}"
    # The committed .mo is what the .po compiles to (run `make translations`).
    import io

    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert (po_path.with_suffix(".mo")).read_bytes() == compiled.getvalue()
