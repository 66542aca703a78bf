"""Tracking numbers: unguessable (≥ 80 bits from `secrets`), readable (no 0/O, 1/I/L), grouped, and a check
character that catches every single wrong character and every swap of two characters before a lookup."""

from __future__ import annotations

import math

import pytest

from doudi.complaints import tracking


def test_numbers_carry_at_least_80_bits_of_randomness():
    assert tracking.RANDOM_LENGTH * math.log2(len(tracking.ALPHABET)) >= 80
    assert len(tracking.ALPHABET) == 31 and len(set(tracking.ALPHABET)) == 31


def test_the_alphabet_has_no_ambiguous_characters():
    assert not set("01ILO") & set(tracking.ALPHABET)


def test_generated_numbers_are_well_formed_and_distinct():
    numbers = {tracking.generate() for _ in range(5000)}
    assert len(numbers) == 5000
    for number in list(numbers)[:200]:
        assert len(number) == tracking.LENGTH
        assert tracking.normalise(number) == number


def test_display_groups_by_four_and_lookup_input_is_lenient():
    number = tracking.generate()
    shown = tracking.display(number)
    assert shown.count("-") == 4 and all(len(g) == 4 for g in shown.split("-"))
    assert tracking.normalise(f"  {shown.lower()} ") == number
    assert tracking.normalise(shown.replace("-", " ")) == number


def test_every_single_character_error_is_caught():
    number = tracking.generate()
    for position in range(tracking.LENGTH):
        for char in tracking.ALPHABET:
            if char == number[position]:
                continue
            typo = number[:position] + char + number[position + 1 :]
            with pytest.raises(tracking.Invalid) as exc:
                tracking.normalise(typo)
            assert exc.value.reason == "check"


def test_every_swap_of_two_different_characters_is_caught():
    number = tracking.generate()
    for i in range(tracking.LENGTH):
        for j in range(i + 1, tracking.LENGTH):
            if number[i] == number[j]:
                continue
            swapped = list(number)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            with pytest.raises(tracking.Invalid):
                tracking.normalise("".join(swapped))


@pytest.mark.parametrize("raw", ["", "ABC", "0" * 20, "I" * 20, "<script>alert(1)</script>", "A" * 200])
def test_malformed_input_is_a_format_error(raw):
    with pytest.raises(tracking.Invalid) as exc:
        tracking.normalise(raw)
    assert exc.value.reason == "format"
