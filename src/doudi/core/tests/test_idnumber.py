import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doudi.core import idnumber
from doudi.core.logging import mask_personal_data

# The worked example printed in GB 11643-1999 (check character X).
STANDARD_EXAMPLE = "11010519491231002X"


def test_the_standards_own_example_is_valid_and_female():
    parsed = idnumber.parse(STANDARD_EXAMPLE)
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.sex == "2"


def test_a_wrong_check_character_is_refused():
    with pytest.raises(idnumber.IdNumberError) as exc:
        idnumber.parse("110105194912310021")
    assert exc.value.code == "id_checksum"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "id_required"), ("1234", "id_length"), ("11010519491231002Y", "id_format"),
     ("110105194913310028", "id_birth_date"), ("11010520990101001X", "id_birth_date")],
)
def test_malformed_numbers_get_a_specific_reason(raw, code):
    with pytest.raises(idnumber.IdNumberError) as exc:
        idnumber.parse(raw, today=dt.date(2026, 1, 1))
    assert exc.value.code == code
    assert exc.value.message


def test_a_15_digit_number_is_converted_to_18_digits():
    old = "110105491231002"
    parsed = idnumber.parse(old)
    assert parsed.number == "11010519491231002X"


def test_an_unknown_address_code_is_refused_but_an_obsolete_one_is_accepted():
    known = {"469001", "469003"}
    assert idnumber.parse(idnumber.make("469003", dt.date(1990, 1, 1), 11), address_known=known.__contains__)
    with pytest.raises(idnumber.IdNumberError) as exc:
        idnumber.parse(idnumber.make("469099", dt.date(1990, 1, 1), 11), address_known=known.__contains__)
    assert exc.value.code == "id_address"


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)), st.integers(0, 999))
def test_every_generated_number_parses_back_to_its_birth_date_and_sex(birth, seq):
    number = idnumber.make("469001", birth, seq)
    parsed = idnumber.parse(number, today=dt.date(2026, 1, 1))
    assert parsed.birth_date == birth
    assert parsed.sex == ("1" if seq % 2 else "2")


def test_masking_hides_the_middle_of_id_numbers_and_phones_in_logs():
    text = mask_personal_data(f"id={STANDARD_EXAMPLE} tel 13812345678")
    assert STANDARD_EXAMPLE not in text
    assert "13812345678" not in text
    assert idnumber.mask(STANDARD_EXAMPLE) == "110105********002X"
