"""Request numbers: 8 random digits, the last a Damm check digit that catches keypad typos."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.numbers import new_request_number, parse_request_number, with_check_digit

bodies = st.text(alphabet="0123456789", min_size=7, max_size=7).filter(lambda b: b[0] != "0")
valid_numbers = bodies.map(with_check_digit)


def test_new_numbers_have_eight_digits_and_no_leading_zero():
    numbers = [new_request_number() for _ in range(500)]
    assert all(len(number) == 8 and number.isdigit() for number in numbers)
    assert all(number[0] != "0" for number in numbers)
    assert {number[0] for number in numbers} == set("123456789")


def test_new_numbers_parse_back():
    for _ in range(500):
        number = new_request_number()
        assert parse_request_number(number) == number
        assert parse_request_number(number + "#") == number


def test_new_numbers_are_random_not_sequential():
    numbers = [int(new_request_number()) for _ in range(200)]
    assert len(set(numbers)) >= 199
    gaps = [abs(b - a) for a, b in itertools.pairwise(numbers)]
    assert min(gaps) > 100


@given(bodies)
def test_check_digit_is_appended_to_the_body(body):
    number = with_check_digit(body)
    assert number[:7] == body and len(number) == 8
    assert parse_request_number(number) == number


@given(valid_numbers, st.integers(0, 7), st.integers(1, 9))
def test_every_single_digit_substitution_is_rejected(number, position, shift):
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert parse_request_number(typo) is None
    assert parse_request_number(typo + "#") is None


@given(valid_numbers, st.integers(0, 6))
def test_every_adjacent_transposition_is_rejected(number, position):
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped != number:
        assert parse_request_number(swapped) is None


def test_substitutions_and_transpositions_of_one_number_are_all_rejected():
    number = with_check_digit("4812357")
    typos = {number[:i] + d + number[i + 1 :] for i in range(8) for d in "0123456789"}
    typos |= {number[:i] + number[i + 1] + number[i] + number[i + 2 :] for i in range(7)}
    typos.discard(number)
    assert len(typos) == 8 * 9 + 7
    assert [typo for typo in typos if parse_request_number(typo) is not None] == []


@given(valid_numbers, st.text(min_size=1).filter(lambda junk: not junk.isdigit()))
def test_non_digits_anywhere_are_rejected(number, junk):
    assert parse_request_number(number[:4] + junk + number[4:]) is None


@given(valid_numbers, st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_too_long_numbers_are_rejected(number, extra):
    assert parse_request_number(number + extra) is None


@given(valid_numbers, st.integers(0, 7))
def test_too_short_numbers_are_rejected(number, length):
    assert parse_request_number(number[:length]) is None


@pytest.mark.parametrize("digits", [None, "", "#", "*", "########", "0" * 8, "1234 5678"])
def test_garbage_is_rejected(digits):
    assert parse_request_number(digits) is None


@pytest.mark.parametrize("zero", ["０", "٠", "०"])
def test_non_ascii_digits_of_a_valid_number_are_rejected(zero):
    number = with_check_digit("4812357")
    lookalike = "".join(chr(ord(zero) + int(digit)) for digit in number)
    assert lookalike != number and lookalike.isdigit()
    assert parse_request_number(lookalike) is None


def test_leading_zero_is_rejected_even_with_a_valid_check_digit():
    from stdnum import damm

    number = "0123456" + damm.calc_check_digit("0123456")
    assert damm.is_valid(number)
    assert parse_request_number(number) is None


@pytest.mark.parametrize("body", ["", "123456", "12345678", "12a4567", "１２３４５６７", "٤٨١٢٣٥٧"])
def test_with_check_digit_refuses_a_malformed_body(body):
    with pytest.raises(ValueError):
        with_check_digit(body)
