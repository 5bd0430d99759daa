"""Every warning code has a short English and Chinese sentence."""

import pytest

from experiments.stats import messages

CODES = [
    value
    for name, value in vars(messages).items()
    if name.isupper() and isinstance(value, str)
]


def test_codes_are_their_own_names():
    assert set(CODES) == set(messages.MESSAGES)
    for code in CODES:
        assert getattr(messages, code) == code


@pytest.mark.parametrize("code", CODES)
def test_each_code_has_both_languages(code):
    sentences = messages.MESSAGES[code]
    assert set(sentences) == {"en", "zh_CN"}
    assert 0 < len(sentences["en"]) <= 160
    assert 0 < len(sentences["zh_CN"]) <= 80
    assert messages.message(code, "zh_CN") == sentences["zh_CN"]
    assert messages.message(code, "zh") == sentences["zh_CN"]
    assert messages.message(code, "en") == sentences["en"]


def test_unknown_code_is_shown_as_is():
    assert messages.message("SOMETHING_NEW", "en") == "SOMETHING_NEW"
