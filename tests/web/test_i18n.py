"""Every word of the console exists in French and English, and pages pick their language as documented."""

from __future__ import annotations

import re
import string

from starlette.requests import Request

from cauri.identity.permissions import Role
from cauri.web.i18n import TEXTS, page_language, translate
from cauri.web.rendering import TEMPLATES_DIR

_KEY_USE = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
_DYNAMIC_USE = re.compile(r"""\bt\(\s*["']([a-z_]+\.)["']\s*~""")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_used_by_a_template_exists() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        source = template.read_text(encoding="utf-8")
        used |= set(_KEY_USE.findall(source))
        prefixes |= set(_DYNAMIC_USE.findall(source))
    assert used, "templates use t()"
    assert sorted(used - TEXTS.keys()) == []
    assert {prefix for prefix in prefixes if not any(key.startswith(prefix) for key in TEXTS)} == set()


def test_every_text_has_both_languages_with_the_same_placeholders() -> None:
    for key, (french, english) in TEXTS.items():
        assert french.strip() and english.strip(), key
        assert placeholders(french) == placeholders(english), key


def test_every_role_has_a_name() -> None:
    for role in Role:
        assert translate("fr", f"role.{role.value}") != translate("en", f"role.{role.value}")


def request_with(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/console", "headers": raw, "query_string": b""})


def test_language_choice_cookie_then_browser_then_french() -> None:
    assert page_language(request_with({})) == "fr"
    assert page_language(request_with({"Accept-Language": "en-US,en;q=0.9"})) == "en"
    assert page_language(request_with({"Accept-Language": "de-DE,de;q=0.9"})) == "fr"
    assert page_language(request_with({"Accept-Language": "en", "Cookie": "cauri_lang=fr"})) == "fr"
    assert page_language(request_with({"Cookie": "cauri_lang=en"})) == "en"
    assert page_language(request_with({"Accept-Language": "en", "Cookie": "cauri_lang=xx"})) == "en"
