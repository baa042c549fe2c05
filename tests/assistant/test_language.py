from __future__ import annotations

import pytest

from touchpoint.assistant.nlu.language import UNDETERMINED, detect_language


@pytest.mark.parametrize("text", ["", None, "   ", "😀😀😀🙏", b"\xff\xfe\x00\x01\x02", "\x00" * 50, "1234 5678 !!!",
                                  "x" * 1_000_000, "🇫🇷🇪🇸", "ok"])
def test_odd_input_is_undetermined_or_low_confidence_never_a_crash(text):
    guess = detect_language(text, ["en"])
    assert 0.0 <= guess.confidence <= 1.0
    if text in ("", None, "   ", "😀😀😀🙏", "\x00" * 50, "1234 5678 !!!", "🇫🇷🇪🇸"):
        assert guess.code == UNDETERMINED and not guess.reliable
    assert guess.code == UNDETERMINED or not guess.reliable or len(str(text)) > 10


@pytest.mark.parametrize(("text", "code"), [
    ("Hello, I was charged twice for my booking last week", "en"),
    ("Hola, me han cobrado dos veces la reserva de la semana pasada", "es"),
    ("Bonjour, on m'a facturé deux fois la réservation de la semaine dernière", "fr"),
    ("Hallo, mir wurde die Buchung von letzter Woche zweimal berechnet", "de"),
    ("Olá, fui cobrado duas vezes pela reserva da semana passada", "pt"),
])
def test_common_languages(text, code):
    guess = detect_language(text)
    assert guess.code == code and guess.reliable


def test_declared_languages_act_as_a_prior_for_short_messages():
    assert detect_language("can someone call me", ["en", "es"]).code == "en"
    assert detect_language("thanks", ["en"]).code == "en"


def test_mixed_language_message_is_flagged():
    guess = detect_language("Hello, I need help with my account please. Necesito ayuda con mi cuenta por favor.")
    assert guess.mixed
    assert {guess.code} | {code for code, _ in guess.alternatives} >= {"en", "es"}
    assert not detect_language("Hello, I need help with my account. My card was declined yesterday.").mixed
