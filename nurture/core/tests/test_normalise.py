from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nurture.core.normalise import (
    OLD_MOBILE_PREFIXES,
    NormalisationError,
    fold,
    greeting,
    normalize_email,
    normalize_phone,
    split_name,
)

NEW_PREFIXES = (
    "32 33 34 35 36 37 38 39 56 58 59 70 76 77 78 79 81 82 83 84 85 86 88 89 90 91 92 93 94 96 97 98 99"
).split()


@pytest.mark.parametrize(
    "raw",
    ["0912345678", "0912.345.678", "0912-345-678", "+84 912 345 678", "84912345678", "(+84)912345678",
     "(84) 912 345 678", "0084912345678", " 0912 345 678 ", "912345678"],
)  # fmt: skip
def test_every_written_form_of_a_mobile_gives_one_value(raw: str) -> None:
    assert normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize(("old", "new"), sorted(OLD_MOBILE_PREFIXES.items()))
def test_the_whole_2018_conversion_table(old: str, new: str) -> None:
    expected = "+84" + new[1:] + "1234567"
    assert normalize_phone(old + "1234567") == expected
    assert normalize_phone("+84" + old[1:] + "1234567") == expected
    assert normalize_phone("84" + old[1:] + "1234567") == expected


def test_the_table_is_complete() -> None:
    assert len(OLD_MOBILE_PREFIXES) == 21
    assert OLD_MOBILE_PREFIXES["0168"] == "038" and OLD_MOBILE_PREFIXES["0120"] == "070"
    assert OLD_MOBILE_PREFIXES["0123"] == "083" and OLD_MOBILE_PREFIXES["0186"] == "056"
    assert OLD_MOBILE_PREFIXES["0199"] == "059"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("024 3826 1234", "+842438261234"), ("028 3823 4567", "+842838234567"), ("(0236) 3822 123", "+842363822123")],
)
def test_landlines_keep_their_area_codes(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_other_countries_and_default_region() -> None:
    assert normalize_phone("+1 650 253 0000") == "+16502530000"
    assert normalize_phone("650-253-0000", default_region="US") == "+16502530000"
    assert normalize_phone("+65 6123 4567") == "+6561234567"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("", "phone_empty"), ("abc", "phone_invalid"), ("0912abc678", "phone_invalid"), ("12345", "phone_too_short"),
     ("1234567890123456", "phone_too_long"), ("0112345678", "phone_invalid"), ("+84 123", "phone_too_short")],
)  # fmt: skip
def test_invalid_numbers_are_rejected_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(NormalisationError) as exc:
        normalize_phone(raw)
    assert exc.value.code == code
    assert str(exc.value)


separators = st.sampled_from(["", " ", ".", "-"])


@given(prefix=st.sampled_from(NEW_PREFIXES), rest=st.text("0123456789", min_size=7, max_size=7), sep=separators,
       form=st.sampled_from(["0", "+84", "84", "(+84)", "0084"]))  # fmt: skip
def test_property_all_forms_agree(prefix: str, rest: str, sep: str, form: str) -> None:
    national = prefix + rest
    written = form + sep + national[:3] + sep + national[3:6] + sep + national[6:]
    value = normalize_phone(written)
    assert value == "+84" + national
    assert normalize_phone(value) == value


@given(old=st.sampled_from(sorted(OLD_MOBILE_PREFIXES)), rest=st.text("0123456789", min_size=7, max_size=7))
def test_property_old_numbers_equal_their_new_form(old: str, rest: str) -> None:
    assert normalize_phone(old + rest) == normalize_phone(OLD_MOBILE_PREFIXES[old] + rest)


def test_email_normalisation() -> None:
    assert normalize_email("  An.Nguyen@Gmail.COM ") == "an.nguyen@gmail.com"
    assert normalize_email("an@ví-dụ.vn") == "an@" + "ví-dụ".encode("idna").decode() + ".vn"


@pytest.mark.parametrize(
    "raw", ["", "an", "an@", "@x.vn", "a@@x.vn", "a b@x.vn", "an@localhost", "an@-x.vn", "an@x-.vn", "a..b@x.vn"]
)
def test_invalid_emails_are_rejected(raw: str) -> None:
    with pytest.raises(NormalisationError):
        normalize_email(raw)


@given(
    local=st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(vn|com)", fullmatch=True),
)
def test_property_email_idempotent(local: str, domain: str) -> None:
    try:
        once = normalize_email(f"{local}@{domain}")
    except NormalisationError:
        return
    assert normalize_email(once) == once


def test_fold_and_split_vietnamese_names() -> None:
    assert fold("Nguyễn  Văn An") == "nguyen van an"
    assert fold("ĐẶNG THỊ ĐÀO") == "dang thi dao"
    assert split_name("Nguyễn Văn An") == split_name("nguyễn văn an")
    parts = split_name("Trần Thị Thu Hương")
    assert (parts.family, parts.middle, parts.given) == ("Trần", "Thị Thu", "Hương")
    assert split_name("An").given == "An" and split_name("An").family == ""


VIETNAMESE = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ "


@given(st.text(alphabet=VIETNAMESE + VIETNAMESE.upper(), max_size=40))
def test_property_fold_is_ascii_and_idempotent(text: str) -> None:
    folded = fold(text)
    assert folded.isascii()
    assert fold(folded) == folded


def test_greeting() -> None:
    assert greeting("An", "male") == "anh An"
    assert greeting("Hương", "female") == "chị Hương"
    assert greeting("An", "") == "bạn An"
    assert greeting("", "") == "anh/chị"
