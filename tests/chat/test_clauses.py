"""Cutting a message into clauses: lines, sentences, spaced dashes; never inside ( ) or a number."""

import time

import pytest

from agent.chat.clauses import sentences, split_clauses


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("Call it x. It has a y (int).", ["Call it x.", "It has a y (int)."]),
        ("Hi! Could you? Yes.", ["Hi!", "Could you?", "Yes."]),
        ("a weight (number >= 0.5) and a note (text. optional)", None),
        ("store adoptions -- call it adoption", ["store adoptions", "call it adoption"]),
        ("Vet Contact \u2014 save our vets", ["Vet Contact", "save our vets"]),
        ("Vet Contact - save our vets", ["Vet Contact", "save our vets"]),
        ("age between 0 - 40", None),
        ("fields -> a (int)", None),
        ("e.g. a note", None),
        ("note: str? len<=200", None),
        ("at (datetime)? Thanks!", ["at (datetime)?", "Thanks!"]),
    ],
)
def test_sentences(line: str, parts: list[str] | None) -> None:
    assert sentences(line) == (parts or [line])


def test_clauses_keep_their_line_and_bullet_and_drop_blank_marks() -> None:
    clauses = split_clauses("Pet Log\n\n- age: int\n1) name (text). Thanks\n  --  \n")
    assert [(c.text, c.line, c.bullet) for c in clauses] == [
        ("Pet Log", 0, False),
        ("age: int", 2, True),
        ("name (text).", 3, True),
        ("Thanks", 3, True),
    ]


def test_field_lines_are_one_clause_whatever_their_marks() -> None:
    (clause,) = split_clauses("applicant: str? len<=80, household_size: int >=1 <=20. ok")
    assert clause.text.startswith("applicant: str? len<=80")


def test_a_long_line_is_cut_in_linear_time() -> None:
    started = time.perf_counter()
    split_clauses(("a (b. c) -- d. " * 5_000) + "(" * 5_000 + " - " * 5_000)
    assert time.perf_counter() - started < 1.0
