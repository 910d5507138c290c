"""Acceptance: field rules written in words are honoured like the short forms."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "pet_fitness"

OK = {"age": 2, "score": 7.5, "size": "medium"}


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {**OK, "nickname": "Speedy"}, {"score": 9.0})


def test_the_optional_field_may_be_left_out(client: TestClient) -> None:
    item = create(client, F, OK)
    assert item.get("nickname") is None


def test_each_rule_in_words_is_enforced(client: TestClient) -> None:
    refused(client, F, {**OK, "age": -1}, "age")
    refused(client, F, {**OK, "score": 10.5}, "score")
    refused(client, F, {**OK, "score": -0.1}, "score")
    refused(client, F, {**OK, "size": "huge"}, "size")
    refused(client, F, {**OK, "nickname": "x" * 21}, "nickname")
    create(client, F, {**OK, "score": 0, "nickname": "x" * 20})
