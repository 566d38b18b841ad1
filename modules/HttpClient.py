"""HTTP transport for one provider: pooled session, timeouts, bounded retries, one-line errors."""
from __future__ import annotations

import email.utils
import html
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from modules.Errors import ApiError
from modules.ProviderConfig import api_key_variable

RETRYABLE_STATUSES = {429: "rate limited", 503: "service unavailable"}
_MASKED_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
_TAG_PATTERN = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retry policy shared by chat and discovery requests."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 3
    max_retry_wait: float = 10.0
    pool_size: int = 16


def redact(text: str, secret: str) -> str:
    """Remove `secret` and anything shaped like an API key from `text`."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "********")
    return _MASKED_KEY_PATTERN.sub("********", text)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    """Requests to one provider's API; raises ApiError with a one-line, key-free message."""

    def __init__(self, provider_name: str, base_url: str, api_key: str,
                 settings: HttpSettings = HttpSettings(),
                 on_wait: Optional[Callable[[str], None]] = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider_name = provider_name
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self._api_key = api_key
        self._on_wait = on_wait
        self._sleep = sleep
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, settings.pool_size))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Authorization": f"Bearer {api_key}",
                                     "Content-Type": "application/json"})

    @property
    def host(self) -> str:
        """Host name of the provider's API."""
        return urlsplit(self.base_url).hostname or self.base_url

    def get_json(self, path: str) -> Any:
        """GET a JSON document."""
        return self._json_body(self.request("GET", path), path)

    def post_json(self, path: str, body: dict) -> Any:
        """POST JSON and return the JSON reply."""
        return self._json_body(self.request("POST", path, body), path)

    def request(self, method: str, path: str, body: Optional[dict] = None,
                stream: bool = False) -> requests.Response:
        """Send a request, retrying 429/503 with capped backoff; raise ApiError on failure."""
        url = f"{self.base_url}{path}"
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        for attempt in range(self.settings.max_retries + 1):
            try:
                response = self.session.request(method, url, json=body, stream=stream, timeout=timeout)
            except requests.RequestException as exc:
                raise ApiError(self.describe_network_error(exc)) from None
            if response.status_code in RETRYABLE_STATUSES and attempt < self.settings.max_retries:
                self._wait_before_retry(response, attempt)
                continue
            if response.status_code >= 400:
                raise self._http_error(response)
            return response
        raise AssertionError("unreachable")

    def _wait_before_retry(self, response: requests.Response, attempt: int) -> None:
        delay = parse_retry_after(response.headers.get("Retry-After"))
        if delay is None:
            delay = 2.0 ** attempt
        delay = min(delay, self.settings.max_retry_wait)
        response.close()
        if self._on_wait:
            label = RETRYABLE_STATUSES[response.status_code]
            self._on_wait(f"{self.provider_name}: {label} ({response.status_code}); "
                          f"retrying in {delay:g} s")
        self._sleep(delay)

    def _http_error(self, response: requests.Response) -> ApiError:
        status = response.status_code
        detail = self.provider_message(response)
        text = f"{self.provider_name}: HTTP {status}"
        if response.reason:
            text += f" {response.reason}"
        if detail:
            text += f": {detail}"
        if status == 401:
            text += f" (check {api_key_variable(self.provider_name)} or the provider's api_key)"
        elif status in RETRYABLE_STATUSES:
            text += f" (gave up after {self.settings.max_retries + 1} tries)"
        response.close()
        return ApiError(redact(text, self._api_key), status=status, retryable=status in RETRYABLE_STATUSES)

    @staticmethod
    def provider_message(response: requests.Response) -> str:
        """The provider's own error text: `error.message` of a JSON body, else the body's text."""
        try:
            body = response.text
        except (requests.RequestException, RuntimeError):
            return ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return _one_line(error["message"])
            if isinstance(error, str):
                return _one_line(error)
            if isinstance(data.get("message"), str):
                return _one_line(data["message"])
        if "<" in body and ">" in body:
            body = html.unescape(_TAG_PATTERN.sub(" ", body))
        return _one_line(body)

    def describe_network_error(self, exc: requests.RequestException) -> str:
        """One line naming the host and what went wrong."""
        where = f"{self.host} ({self.provider_name})"
        text = str(exc)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"cannot connect to {where}: no answer within {self.settings.connect_timeout:g} s"
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return f"{where} sent nothing for {self.settings.read_timeout:g} s (read timeout)"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"TLS error talking to {where}: {_tls_reason(text)}"
        if isinstance(exc, requests.exceptions.ConnectionError):
            if any(s in text for s in ("Name or service not known", "Failed to resolve",
                                        "nodename nor servname", "getaddrinfo failed",
                                        "Temporary failure in name resolution")):
                return f"cannot resolve host {where}"
            if "Connection refused" in text:
                return f"cannot connect to {where}: connection refused"
            return f"connection to {where} failed: {_one_line(text, 160)}"
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                      | requests.exceptions.InvalidSchema):
            return f"invalid base_api_url for {self.provider_name}: {self.base_url}"
        return f"request to {where} failed: {_one_line(text, 160)}"

    def _json_body(self, response: requests.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            snippet = _one_line(response.text, 60)
            raise ApiError(f"{self.provider_name}: {path} returned a reply that is not JSON: "
                           f"{snippet!r}") from None

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tls_reason(text: str) -> str:
    match = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", text) or re.search(r"SSLError\((.+?)\)", text)
    return _one_line(match.group(1) if match else text, 160)
