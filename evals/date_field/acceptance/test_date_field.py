"""Acceptance: a date field takes ISO dates that exist, and answers them as ISO dates."""

from fastapi.testclient import TestClient
from tests.acceptance.contract import create, lifecycle, refused

F = "pet_birthday"


def test_every_operation(client: TestClient) -> None:
    lifecycle(client, F, {"born": "2020-01-31"}, {"born": "2021-12-01"})


def test_a_leap_day_is_a_date(client: TestClient) -> None:
    create(client, F, {"born": "2020-02-29"})


def test_days_that_do_not_exist_and_words_are_refused(client: TestClient) -> None:
    refused(client, F, {"born": "2021-02-29"}, "born")
    refused(client, F, {"born": "2021-13-01"}, "born")
    refused(client, F, {"born": "last spring"}, "born")
