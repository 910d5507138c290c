import pytest

from agent.addresses import is_loopback_host, is_loopback_url


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("api.openai.com", False),
        ("", False),
        (None, False),
    ],
)
def test_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_urls() -> None:
    assert is_loopback_url("http://127.0.0.1:8000/v1")
    assert not is_loopback_url("https://api.openai.com/v1")
    assert not is_loopback_url(None)
