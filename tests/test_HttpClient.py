"""HttpClient: retries on 429/503 with Retry-After, one-line error messages, key redaction."""
from __future__ import annotations

import email.utils
import time
from typing import List

import pytest
import requests
import responses

from llmc.base.Errors import ApiError
from llmc.transport.HttpClient import HttpClient, parse_retry_after, redact
from llmc.transport.HttpSettings import HttpSettings

BASE = "http://127.0.0.1:9/v1"
KEY = "sk-test-abcdefghijklmnop"


def client(max_retries: int = 3, **settings) -> tuple[HttpClient, List[float], List[str]]:
    sleeps: List[float] = []
    waits: List[str] = []
    http = HttpClient("fake", BASE, KEY, HttpSettings(max_retries=max_retries, **settings),
                      on_wait=waits.append, sleep=sleeps.append)
    return http, sleeps, waits


def test_sends_bearer_key_and_json() -> None:
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/chat/completions", json={"ok": True})
        assert client()[0].post_json("/chat/completions", {"a": 1}) == {"ok": True}
        request = mock.calls[0].request
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.body == b'{"a": 1}'


def test_no_key_sends_no_authorization_header() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", json={"data": []})
        HttpClient("local", BASE, "").get_json("/models")
        assert "Authorization" not in mock.calls[0].request.headers


def test_401_names_the_key_variable_the_provider_was_given() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=401, json={"error": {"message": "bad key"}})
        with pytest.raises(ApiError, match=r"check MY_TOKEN or the provider's api_key"):
            HttpClient("fake", BASE, KEY, key_variable="MY_TOKEN").get_json("/models")


def test_timeouts_are_passed_to_every_request() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", json={"data": []})
        client(connect_timeout=1.5, read_timeout=4.0)[0].get_json("/models")
        assert mock.calls[0].request.req_kwargs["timeout"] == (1.5, 4.0)


@pytest.mark.parametrize("status, label", [(429, "rate limited"), (503, "service unavailable")])
def test_retries_honouring_retry_after_seconds(status: int, label: str) -> None:
    http, sleeps, waits = client()
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=status, headers={"Retry-After": "2"})
        mock.get(f"{BASE}/models", json={"data": [1]})
        assert http.get_json("/models") == {"data": [1]}
        assert len(mock.calls) == 2
    assert sleeps == [2.0]
    assert waits == [f"fake: {label} ({status}); retrying in 2 s (retry 1 of 3)"]


def test_retry_after_http_date() -> None:
    http, sleeps, _ = client()
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=429, headers={"Retry-After": when})
        mock.get(f"{BASE}/models", json={})
        http.get_json("/models")
    assert 3.0 <= sleeps[0] <= 5.0


def test_backoff_without_retry_after_is_exponential_and_capped() -> None:
    http, sleeps, waits = client(max_retries=5, max_retry_wait=3.0)
    with responses.RequestsMock() as mock:
        for _ in range(6):
            mock.get(f"{BASE}/models", status=503)
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(waits) == 5
    assert str(info.value).startswith("fake: API request failed with status code 503.")
    assert "gave up after 6 tries" in str(info.value)
    assert info.value.status == 503 and info.value.retryable


def test_retry_after_is_capped() -> None:
    http, sleeps, _ = client(max_retries=1)
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=429, headers={"Retry-After": "45"})
        mock.get(f"{BASE}/models", json={})
        http.get_json("/models")
    assert sleeps == [10.0]


def test_a_very_long_retry_after_is_not_waited_for() -> None:
    http, sleeps, _ = client()
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=429, headers={"Retry-After": "3600"},
                 json={"error": {"message": "Rate limit reached"}})
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert sleeps == []
    assert str(info.value) == ("fake: API request failed with status code 429. Too Many Requests: Rate limit reached "
                               "(the provider asks to wait 3600 s; not retried)")


def test_no_retries_when_max_retries_is_zero() -> None:
    http, sleeps, _ = client(max_retries=0)
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=429)
        with pytest.raises(ApiError, match="API request failed with status code 429."):
            http.get_json("/models")
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500, 502])
def test_other_errors_are_not_retried_and_name_status_provider_and_message(status: int) -> None:
    http, sleeps, _ = client()
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/chat/completions", status=status,
                  json={"error": {"message": "The provider says no.", "type": "x"}})
        with pytest.raises(ApiError) as info:
            http.post_json("/chat/completions", {})
        assert len(mock.calls) == 1
    text = str(info.value)
    assert text.startswith(f"fake: API request failed with status code {status}. ")
    assert text.count("The provider says no.") == 1
    assert "\n" not in text and sleeps == []
    assert ("FAKE_API_KEY" in text) == (status == 401)


def test_401_names_the_key_variable() -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=401, json={"error": {"message": "Incorrect API key provided."}})
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert str(info.value) == ("fake: API request failed with status code 401. Is your API key valid? Unauthorized: Incorrect API key provided. "
                               "(check FAKE_API_KEY or the provider's api_key)")


@pytest.mark.parametrize("body, expected", [
    ({"error": "plain string error"}, "plain string error"),
    ({"message": "top-level message"}, "top-level message"),
    ("line one\nline two", "line one line two"),
    ("", None),
])
def test_provider_message_shapes(body, expected) -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
        mock.get(f"{BASE}/models", status=400, **kwargs)
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert str(info.value) == "fake: API request failed with status code 400. Bad Request" + (f": {expected}" if expected else "")


def test_html_error_page_is_summarised() -> None:
    http = client()[0]
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=502, body=page, content_type="text/html")
        mock.get(f"{BASE}/models", status=500, body="<html><title>Upstream &amp; co down</title></html>",
                 content_type="text/html")
        with pytest.raises(ApiError) as first:
            http.get_json("/models")
        with pytest.raises(ApiError) as second:
            http.get_json("/models")
    assert str(first.value) == "fake: API request failed with status code 502. Bad Gateway: HTML error page"
    assert str(second.value) == "fake: API request failed with status code 500. Internal Server Error: Upstream & co down (HTML error page)"


def test_non_json_success_body() -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", body="<html>login</html>", content_type="text/html")
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert str(info.value) == "fake: /models returned an HTML page that is not JSON: '<html>login</html>'"


def test_long_bodies_are_one_shortened_line() -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=500, body="x\n" * 1000)
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("exc, expected", [
    (requests.exceptions.ConnectTimeout("boom"), "cannot connect to 127.0.0.1:9 (fake): no answer within 10 s"),
    (requests.exceptions.ReadTimeout("boom"), "127.0.0.1:9 (fake) sent nothing for 60 s (read timeout)"),
    (requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
     "cannot connect to 127.0.0.1:9 (fake): connection refused"),
    (requests.exceptions.ConnectionError("Failed to resolve 'x.invalid'"), "cannot resolve host 127.0.0.1:9 (fake)"),
    (requests.exceptions.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"),
     "TLS error talking to 127.0.0.1:9 (fake): wrong version number"),
])
def test_network_errors_are_one_line_naming_the_host(exc, expected) -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", body=exc)
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert str(info.value) == expected
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_errors_never_contain_the_key() -> None:
    http = client()[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", status=401,
                 json={"error": {"message": f"Incorrect API key provided: {KEY}. Also sk-proj-****abcd."}})
        mock.post(f"{BASE}/chat/completions", body=f"echo {KEY}")
        with pytest.raises(ApiError) as first:
            http.get_json("/models")
        with pytest.raises(ApiError) as second:
            http.post_json("/chat/completions", {})
    for error in (first.value, second.value):
        assert KEY not in str(error) and "abcdefghijklmnop" not in str(error)
        assert "********" in str(error)


def test_redact() -> None:
    assert redact("key=abcd1234 and abcd1234", "abcd1234") == "key=******** and ********"
    assert redact("an sk-abcdefghij key", "") == "an ******** key"
    assert redact("short key ab", "ab") == "short key ab"  # too short to match safely


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 7, usegmt=True), now) == pytest.approx(7, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 7, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "Mon, 99 Foo 2024"):
        assert parse_retry_after(bad, now) is None


def test_invalid_base_url() -> None:
    http = HttpClient("fake", "not a url", KEY)
    with pytest.raises(ApiError, match="invalid base_api_url for fake"):
        http.get_json("/models")


@pytest.mark.parametrize("key, expected", [
    ("sk-with-line-break-0123\nx", "contains characters that cannot be sent"),
    ("sk-curly-“quote”-0123456", "holds characters that are not allowed"),
])
def test_keys_that_cannot_be_sent_are_reported_without_the_key(key: str, expected: str) -> None:
    http = HttpClient("fake", "http://127.0.0.1:9/v1", key, HttpSettings(connect_timeout=0.5))
    with pytest.raises(ApiError) as info:
        http.get_json("/models")
    assert expected in str(info.value) and "0123" not in str(info.value)


def test_surrounding_whitespace_of_a_key_is_not_sent() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", json={})
        HttpClient("fake", BASE, f"  {KEY}\n").get_json("/models")
        assert mock.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


def test_deeply_nested_json_bodies() -> None:
    http = client(max_retries=0)[0]
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", body="[" * 100000)
        mock.get(f"{BASE}/models", status=500, body="[" * 100000)
        with pytest.raises(ApiError, match="not JSON"):
            http.get_json("/models")
        with pytest.raises(ApiError, match="API request failed with status code 500."):
            http.get_json("/models")


def test_other_connection_errors_keep_only_the_cause() -> None:
    http = client()[0]
    text = ("HTTPConnectionPool(host='10.0.0.1', port=80): Max retries exceeded with url: /v1/models "
            "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to "
            "establish a new connection: [Errno 101] Network is unreachable'))")
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/models", body=requests.exceptions.ConnectionError(text))
        with pytest.raises(ApiError) as info:
            http.get_json("/models")
    assert str(info.value) == "connection to 127.0.0.1:9 (fake) failed: Network is unreachable"


@responses.activate
def test_a_json_reply_with_a_byte_order_mark_is_read() -> None:
    responses.get(f"{BASE}/models", body=b'\xef\xbb\xbf{"data": []}', content_type="application/json")
    assert HttpClient("fake", BASE, KEY, HttpSettings(max_retries=0)).get_json("/models") == {"data": []}
