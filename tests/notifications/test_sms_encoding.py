"""GSM-7 versus UCS-2: what a French SMS costs, and its GSM-7 transliteration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.notifications.sms.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    count_segments,
    is_gsm7,
    transliterate,
)

FRENCH = "ÀàÂâÇçÉéÈèÊêËëÎîÏïÔôÙùÛûÜüŸÿŒœÆæ«»’… "
GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
ANY_TEXT = st.text(max_size=700)


@pytest.mark.parametrize("char", list("éèùìòÇÉàüöñäØÅÆß"))
def test_these_accents_are_gsm7(char: str) -> None:
    assert count_segments(char * 160).encoding is SmsEncoding.GSM7


@pytest.mark.parametrize("char", list("êâîôûçœëï"))
def test_one_of_these_turns_the_message_into_ucs2(char: str) -> None:
    text = "Votre cotisation est due demain" + char
    count = count_segments(text)
    assert count.encoding is SmsEncoding.UCS2
    assert count.non_gsm == (char,)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),  # an extension character costs two septets
        ("€" * 81, SmsEncoding.GSM7, 162, 2),
        ("a" * 152 + "€", SmsEncoding.GSM7, 154, 1),  # 154 septets still fit one SMS of 160
        ("ê" * 70, SmsEncoding.UCS2, 70, 1),
        ("ê" * 71, SmsEncoding.UCS2, 71, 2),
        ("ê" * 134, SmsEncoding.UCS2, 134, 2),
        ("ê" * 135, SmsEncoding.UCS2, 135, 3),
        ("", SmsEncoding.GSM7, 0, 1),
    ],
)
def test_counts(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_an_escape_pair_at_a_part_boundary_starts_the_next_part() -> None:
    # 306 septets fit two parts of 153, unless "€" (escape + code) would straddle them: then it opens the next part.
    assert count_segments("a" * 152 + "€" + "a" * 152).segments == 3
    assert count_segments("a" * 151 + "€" + "a" * 153).segments == 2


def test_transliteration_of_a_french_reminder() -> None:
    text = "Rappel : votre cotisation « Tontine des sœurs » de 10 000 F CFA est dûe — être à l’heure coûte moins."
    gsm = transliterate(text)
    assert (
        gsm == 'Rappel : votre cotisation " Tontine des soeurs " de 10 000 F CFA est due - etre à l\'heure coute moins.'
    )
    assert count_segments(text).encoding is SmsEncoding.UCS2
    assert count_segments(gsm).encoding is SmsEncoding.GSM7
    assert count_segments(gsm).segments < count_segments(text).segments


def test_transliteration_keeps_the_accents_gsm7_has() -> None:
    assert transliterate("Été à Ségou, où Zoé reçoit ÇA") == "Été à Ségou, où Zoé recoit ÇA"


@given(ANY_TEXT)
def test_segments_hold_the_whole_message(text: str) -> None:
    count = count_segments(text)
    assert count.segments * count.per_part >= count.units
    assert count.segments >= 1
    assert (count.encoding is SmsEncoding.GSM7) == is_gsm7(text)


@given(GSM_TEXT)
def test_gsm7_text_counts_each_extension_character_twice(text: str) -> None:
    count = count_segments(text)
    assert count.encoding is SmsEncoding.GSM7
    assert count.units == len(text) + sum(1 for c in text if c in GSM7_EXTENSION)


@given(st.text(alphabet=st.sampled_from(sorted(set(FRENCH) | set("abc123 .,!?"))), max_size=400) | ANY_TEXT)
def test_transliteration_output_is_gsm7_only(text: str) -> None:
    gsm = transliterate(text)
    assert is_gsm7(gsm)
    assert count_segments(gsm).encoding is SmsEncoding.GSM7


@given(GSM_TEXT)
def test_transliteration_leaves_gsm7_text_unchanged(text: str) -> None:
    assert transliterate(text) == text
