"""HTTP transport for one provider: pooled session, timeouts, bounded retries, one-line errors."""
from __future__ import annotations

import email.utils
import html
import json
import re
import time
from typing import Any, Callable, Optional
from urllib.parse import urljoin, urlsplit

import requests

import urllib3

from .BodyReader import MAX_BODY_BYTES, MAX_ERROR_BODY_BYTES, BodyReader, reply_text
from ..base.Errors import ApiError, one_line
from .HttpSettings import HttpSettings
from ..base.Secrets import api_key_variable
from .RequestDeadline import RequestDeadline, watched_adapter
from ..base.Secrets import mask_url, redact, safe_line, url_secrets

RETRYABLE_STATUSES = {429: "rate limited", 503: "service unavailable"}
MAX_REDIRECTS = 5
LENIENT_JSON = json.JSONDecoder(strict=False)  # raw control characters in strings: accepted, shown safely later
_TAG_PATTERN = re.compile(r"<[^>]+>")
_TITLE_PATTERN = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


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
                 sleep: Callable[[float], None] = time.sleep, key_variable: str = "") -> None:
        """An empty `api_key` sends no Authorization header (a local server needs none)."""
        self.provider_name = provider_name
        self.key_variable = key_variable or api_key_variable(provider_name)
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self._api_key = api_key.strip()
        self._secrets = (self._api_key, *url_secrets(self.base_url))
        self.on_wait = on_wait
        self._sleep = sleep
        self.session = requests.Session()
        adapter = watched_adapter(settings.pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # only what BodyReader undoes itself
        self.session.headers.update({"Content-Type": "application/json", "Accept-Encoding": "gzip, deflate"})
        if self._api_key:
            self.session.headers["Authorization"] = f"Bearer {self._api_key}"

    @property
    def host(self) -> str:
        """Host (and port, if the URL names one) of the provider's API."""
        try:
            parts = urlsplit(self.base_url)
            port = parts.port
        except ValueError:
            return mask_url(self.base_url)
        if not parts.hostname:
            return mask_url(self.base_url)
        return f"{parts.hostname}:{port}" if port else parts.hostname

    def without_key(self, text: str) -> str:
        """`text` with this provider's key (and anything shaped like a key) masked."""
        return redact(text, *self._secrets)

    def safe_line(self, text: str, limit: int = 300) -> str:
        """`text` as one line cut to `limit`, this provider's key (and its URL's password and query) masked
        before the cut."""
        return safe_line(text, *self._secrets, limit=limit)

    def get_json(self, path: str, read_timeout: Optional[float] = None, limit: str = "models_timeout",
                 on_wait: Optional[Callable[[str], None]] = None) -> Any:
        """GET a JSON document (`read_timeout` replaces the settings' one; `limit` names the deadline)."""
        return self._json_body(self.request("GET", path, read_timeout=read_timeout, limit=limit,
                                            on_wait=on_wait), path)

    def post_json(self, path: str, body: dict, limit: str = "reply_timeout",
                  on_wait: Optional[Callable[[str], None]] = None) -> Any:
        """POST JSON and return the JSON reply, all of it within the settings' `limit` seconds."""
        return self._json_body(self.request("POST", path, body, limit=limit, on_wait=on_wait), path)

    def request(self, method: str, path: str, body: Optional[dict] = None, stream: bool = False,
                read_timeout: Optional[float] = None, limit: str = "reply_timeout",
                on_wait: Optional[Callable[[str], None]] = None) -> requests.Response:
        """Send a request, retrying 429/503 with capped backoff; raise ApiError on failure.

        Each try must end within `limit` (an HttpSettings field): with `stream` its headers, else its whole
        body, which is then read (at most MAX_BODY_BYTES) and in `response.content`. Retry waits are told
        to `on_wait` for this request, else to the client's own."""
        url = f"{self.base_url}{path}"
        read_timeout = read_timeout or self.settings.read_timeout
        for attempt in range(self.settings.max_retries + 1):
            response = self._attempt(method, url, body, stream, (self.settings.connect_timeout, read_timeout), limit)
            if (response.status_code in RETRYABLE_STATUSES and attempt < self.settings.max_retries
                    and self._wait_before_retry(response, attempt, on_wait or self.on_wait)):
                continue
            if response.status_code >= 400:
                raise self._http_error(response)
            return response
        raise AssertionError("unreachable")

    def _attempt(self, method: str, url: str, body: Optional[dict], stream: bool, timeout: tuple,
                 limit: str) -> requests.Response:
        """One try under its deadline: the reply's headers, and its body unless it is a stream."""
        seconds = getattr(self.settings, limit)
        with RequestDeadline(seconds) as deadline:
            try:
                response = self._send(method, url, body, timeout)
                if response.status_code >= 400:
                    self._keep_body(response, MAX_ERROR_BODY_BYTES, cut=True)
                elif not stream:
                    self._keep_body(response, MAX_BODY_BYTES)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if deadline.expired:
                    raise self.deadline_error(limit) from None
                raise ApiError(self.without_key(self.describe_network_error(exc, timeout[1]))) from None
            if deadline.expired:  # a body read to a close that the deadline forced is cut short
                response.close()
                raise self.deadline_error(limit)
        return response

    def _send(self, method: str, url: str, body: Optional[dict], timeout: tuple) -> requests.Response:
        """Send, following redirects only within the provider's origin (a chat is never sent elsewhere)."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.request(method, url, json=body, stream=True, timeout=timeout,
                                                allow_redirects=False)
            except requests.exceptions.InvalidHeader:
                raise ApiError(f"the API key of {self.provider_name} contains characters that cannot be "
                               f"sent (a line break?); check {self.key_variable} "
                               "or the provider's api_key") from None
            except (UnicodeError, ValueError) as exc:
                if isinstance(exc, requests.RequestException):
                    raise
                raise ApiError(f"cannot send a request to {self.provider_name}: its API key or "
                               f"base_api_url holds characters that are not allowed there") from None
            if not response.is_redirect:
                return response
            response.close()
            url = self._redirect_target(method, url, response)
        raise ApiError(f"{self.provider_name}: {self.host} redirected the request more than {MAX_REDIRECTS} times")

    def _redirect_target(self, method: str, url: str, response: requests.Response) -> str:
        """Where a redirect points, if it may be followed; ApiError naming both hosts if not."""
        target = urljoin(url, response.headers.get("Location", ""))
        status = response.status_code
        if _origin(target) != _origin(url):
            raise ApiError(self.safe_line(
                f"{self.provider_name}: {self.host} redirected the request ({status}) to another host, "
                f"{_host_of(target)}; not followed, so nothing was sent there: if that host is the "
                "provider's new address, set base_api_url to it", 400))
        if method != "GET" and status in (301, 302, 303):
            raise ApiError(self.safe_line(
                f"{self.provider_name}: {self.host} redirected the {method} request ({status}) to "
                f"{mask_url(urlsplit(target).path)}, which would turn it into a GET; set base_api_url to "
                "the address it points to", 400))
        return target

    def _keep_body(self, response: requests.Response, limit: int, cut: bool = False) -> None:
        """Read the body (bounded, decompressed here) into `response.content`."""
        response._content = BodyReader(response, self.provider_name).read(limit, cut)
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, not in its stubs

    def deadline_error(self, limit: str) -> ApiError:
        """The request ran past its deadline, `limit` naming the setting."""
        return ApiError(f"{self.host} ({self.provider_name}) did not finish its reply within "
                        f"{getattr(self.settings, limit):g} s ({limit} in config.toml)")

    def _wait_before_retry(self, response: requests.Response, attempt: int,
                           on_wait: Optional[Callable[[str], None]]) -> bool:
        """Show and sleep the backoff before the next try; False when the wait asked for is too long."""
        delay = parse_retry_after(response.headers.get("Retry-After"))
        if delay is not None and delay > self.settings.give_up_after:
            return False
        if delay is None:
            delay = 2.0 ** attempt
        delay = min(delay, self.settings.max_retry_wait)
        if on_wait:
            label = RETRYABLE_STATUSES[response.status_code]
            on_wait(f"{self.provider_name}: {label} ({response.status_code}); "
                          f"retrying in {_seconds(delay)} (retry {attempt + 1} of "
                          f"{self.settings.max_retries})")
        response.close()
        self._sleep(delay)
        return True

    def _http_error(self, response: requests.Response) -> ApiError:
        status = response.status_code
        detail = self.provider_message(response, *self._secrets)
        # The first sentence is the one users of the original client know.
        text = f"{self.provider_name}: API request failed with status code {status}."
        if status == 401:
            text += " Is your API key valid?"
        if response.reason:
            text += f" {response.reason}"
        if detail and detail != response.reason:  # an HTML page titled "500 Internal Server Error" adds nothing
            text += f"{':' if response.reason else ''} {detail}"
        if status == 401:
            text += f" (check {self.key_variable} or the provider's api_key)"
        elif status in RETRYABLE_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.settings.give_up_after:
                text += f" (the provider asks to wait {_seconds(wait)}; not retried)"
            else:
                tries = self.settings.max_retries + 1
                text += f" (gave up after {tries} {'try' if tries == 1 else 'tries'})"
        response.close()
        return ApiError(self.without_key(text), status=status, retryable=status in RETRYABLE_STATUSES)

    @staticmethod
    def provider_message(response: requests.Response, *secrets: str) -> str:
        """The provider's own error text (`error.message` of a JSON body, else the body's text) as one
        line, `secret` masked before it is cut."""
        body = reply_text(response)
        try:
            data = LENIENT_JSON.decode(body.lstrip("\ufeff"))
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, str) or (isinstance(error, dict) and isinstance(error.get("message"), str)):
                return safe_line(provider_error_text(error), *secrets)
            if isinstance(data.get("message"), str):
                return safe_line(data["message"], *secrets)
        if "<" in body and ">" in body:
            return _html_summary(body, response.status_code, response.reason or "", secrets)
        return safe_line(body, *secrets)

    def describe_network_error(self, exc: BaseException,
                               read_timeout: Optional[float] = None) -> str:
        """One line naming the host and what went wrong."""
        where = f"{self.host} ({self.provider_name})"
        text = str(exc)
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return f"{where} sent nothing for {read_timeout or self.settings.read_timeout:g} s (read timeout)"
        if not isinstance(exc, requests.RequestException):  # raised while the body was read
            return f"connection to {where} lost in the middle of the reply"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"cannot connect to {where}: no answer within {self.settings.connect_timeout:g} s"
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return f"{where} sent nothing for {read_timeout or self.settings.read_timeout:g} s (read timeout)"
        if "IncompleteRead" in text or isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return f"connection to {where} lost in the middle of the reply"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"TLS error talking to {where}: {_tls_reason(text)}"
        if isinstance(exc, requests.exceptions.ConnectionError):
            if any(s in text for s in ("Name or service not known", "Failed to resolve",
                                        "nodename nor servname", "getaddrinfo failed",
                                        "Temporary failure in name resolution")):
                return f"cannot resolve host {where}"
            if "Connection refused" in text:
                return f"cannot connect to {where}: connection refused"
            if "RemoteDisconnected" in text or "without response" in text:
                return f"{where} closed the connection without replying"
            if "Connection reset" in text:
                return f"{where} reset the connection"
            errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
            cause = errno_text.group(1).strip() if errno_text else self.safe_line(text, 160)
            return f"connection to {where} failed: {cause}"
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                      | requests.exceptions.InvalidSchema):
            return f"invalid base_api_url for {self.provider_name}: {mask_url(self.base_url)}"
        return f"request to {where} failed: {self.safe_line(text, 160)}"

    @staticmethod
    def decode_json(text: str) -> Any:
        """The JSON of a reply's text (a leading BOM and raw control characters in strings accepted);
        ValueError if none."""
        return LENIENT_JSON.decode(text.lstrip("\ufeff"))

    def _json_body(self, response: requests.Response, path: str) -> Any:
        text = reply_text(response)
        try:
            return self.decode_json(text)
        except (ValueError, RecursionError):
            snippet = self.safe_line(text, 60)
            kind = "an HTML page" if "html" in response.headers.get("Content-Type", "") else "a reply"
            raise ApiError(f"{self.provider_name}: {path} returned {kind} that is not JSON: "
                           f"{snippet!r}") from None

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()


def _origin(url: str) -> tuple:
    """(scheme, host, port) of a URL, the default port filled in; a URL that does not parse has none."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ("?", url, None)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port)


def _host_of(url: str) -> str:
    """host:port of a URL for a message, nothing else of it (it came from the provider)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an address that does not parse"
    return f"{host}:{port}" if host and port else host or "an address without a host"


def provider_error_text(error: Any) -> str:
    """The provider's message in an `error` object of a reply, else the object itself; uncut, so a
    key in it is masked (see Secrets.safe_line) before the message is cut to a line."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)


def _seconds(value: float) -> str:
    return f"{round(value, 1):g} s"


def _html_summary(body: str, status: int, reason: str, secrets: tuple) -> str:
    """The title (else the text) of an HTML error page, unless it only repeats the status."""
    match = _TITLE_PATTERN.search(body)
    text = match.group(1) if match else _TAG_PATTERN.sub(" ", body)
    text = safe_line(html.unescape(_TAG_PATTERN.sub(" ", text)), *secrets, limit=120)
    if text.lower() in {f"{status} {reason}".lower(), reason.lower(), str(status)}:
        return "HTML error page"
    return f"{text} (HTML error page)"


def _tls_reason(text: str) -> str:
    match = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", text) or re.search(r"SSLError\((.+?)\)", text)
    return one_line(match.group(1) if match else text, 160)
