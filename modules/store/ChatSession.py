"""The conversation of one chat: its messages, saving/loading them as JSON and Markdown export."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .Alternatives import ALTERNATIVES_KEY, CURRENT_AT_KEY, last_user_index
from .Attachment import Content, content_text, is_content_parts
from ..base.Errors import INCOMPLETE_MARKER, ConfigError, WriteError
from ..base.SafeFiles import atomic_write_text, ensure_directory, file_stamp, read_text_file
from ..base.SurrogateJoiner import without_lone_surrogates
from ..base.Text import size_text
from ..base.TokenUsage import TokenUsage
from ..base.ToolCalls import ToolCall, tool_calls_of

DEFAULT_SESSION_NAME = "session.json"
MAX_SESSION_BYTES = 20 * 1024 * 1024  # the input history file (InputHistory)
# A chat file, /save's or an autosaved one: its writers refuse to write more than its reader reads. It holds
# several images at the attachment limit (20 MiB, a third more in base64), more than a provider takes at once.
MAX_CHAT_FILE_BYTES = 256 * 1024 * 1024
ROLES = ("system", "user", "assistant", "tool")
TITLE_EXAMPLE = {"title": "A short title", "filename": "a-short-file-name"}  # an answer naming these is no answer
TITLE_PROMPT = ("Suggest a short title and a file name for the conversation below. Answer with JSON only, "
                f"exactly like {json.dumps(TITLE_EXAMPLE)}.\n\n")
TITLE_TOKEN_BUDGET = 64  # the answer takes about 25 tokens; a model that goes on is cut here, as a ping is
TITLE_EXCERPT_CHARS = 6000
ROLE_NAME_KEY = "role_name"  # on a system message: the role (see Roles) whose prompt it is
CHAT_FORMAT_KEY = "llmc_chat"  # the header line of an autosaved chat holds this key and the format version
# Still 1 with alternatives (see Alternatives): optional fields, which an llmc from before them loads without
# (it shows and sends the same chat, and a save of its own leaves them out).
CHAT_FORMAT_VERSION = 1
_ESCAPED_IN_FILES = re.compile("[\x85\u2028\u2029\ud800-\udfff]")  # see json_text


class ChatSession:
    """Messages of a chat (system message first) and the file they were last saved to or loaded from."""

    def __init__(self, system_prompt: str, data_directory: Path) -> None:
        self.data_directory = Path(data_directory)
        self.messages: List[dict] = [{"role": "system", "content": system_prompt}]
        self.path: Optional[Path] = None
        self._path_stamp: Optional[tuple] = None  # the file as this chat last wrote or read it
        self.chat_id: Optional[str] = None  # the saved chat (ChatStore) it goes on as; None: a new one
        self.title: Optional[str] = None  # a title given for this chat (--title), for its next save

    # The conversation
    @property
    def system_prompt(self) -> str:
        """The system message's text."""
        return self.messages[0]["content"]

    def set_system_prompt(self, text: str, role_name: Optional[str] = None) -> None:
        """Replace the system message; `role_name`: the role (see Roles) it is the prompt of."""
        self.messages[0] = {"role": "system", "content": text}
        if role_name:
            self.messages[0][ROLE_NAME_KEY] = role_name

    def mark_role(self, name: str, prompt: str) -> None:
        """Mark the system message as the role `name`'s when it is that role's `prompt` (-s may have beaten it)."""
        if self.system_prompt == prompt:
            self.set_system_prompt(prompt, name)

    @property
    def role_name(self) -> Optional[str]:
        """The role whose prompt the system message is, if any."""
        return self.messages[0].get(ROLE_NAME_KEY)

    def reset(self) -> None:
        """Forget every message but the system message; what follows is saved as a new chat, and the
        file it was saved to or loaded from is no longer its own (/save asks before replacing it)."""
        del self.messages[1:]
        self.chat_id = self.title = None
        self.path = self._path_stamp = None

    def resume(self, chat_id: str, messages: List[dict]) -> None:
        """Go on with a saved chat: its messages, and the exchanges to come saved into it."""
        self.messages, self.chat_id, self.title = messages, chat_id, None
        self.path = self._path_stamp = None

    def has_user_messages(self) -> bool:
        """True once the chat holds a user message."""
        return any(m["role"] == "user" for m in self.messages)

    def add_user(self, content: Content) -> None:
        """Append a user message: text, or content parts when it holds an image."""
        self.messages.append({"role": "user", "content": content})

    def add_assistant(self, text: str, incomplete: bool = False, usage: Optional[TokenUsage] = None,
                      model: Optional[str] = None) -> None:
        """Append a reply, the tokens it took and the model that gave it; an incomplete one keeps what
        arrived, marked as such."""
        if incomplete:
            text = f"{text.rstrip()}\n\n{INCOMPLETE_MARKER}"
        message: Dict[str, Any] = {"role": "assistant", "content": text}
        if usage is not None:
            message["usage"] = usage.as_dict()
        if model:
            message["model"] = model
        self.messages.append(message)

    def add_tool_calls(self, text: str, calls: List[ToolCall], usage: Optional[TokenUsage] = None,
                       model: Optional[str] = None) -> None:
        """Append a reply that asks for tool calls (with what text came with them)."""
        self.add_assistant(text, usage=usage, model=model)
        self.messages[-1]["tool_calls"] = [call.as_openai() for call in calls]

    def add_tool_result(self, call: ToolCall, result: str, tool: str = "") -> None:
        """Append what the call of `tool` (as the user reads its name) gave back, for the model."""
        self.messages.append({"role": "tool", "tool_call_id": call.id, "content": result, "tool": tool or call.name})

    def api_messages(self) -> List[dict]:
        """The messages to send: role and content (with tool calls and the ids results answer); the
        incomplete-reply marker is for the user's eyes."""
        return [_api_message(m) for m in self.messages]

    def answering_models(self) -> List[str]:
        """The models that gave the replies, each once, in the order they first answered."""
        return list(dict.fromkeys(m["model"] for m in self.messages if m.get("model")))

    def remove_last_user(self) -> None:
        """Drop the last user message and anything after it (an interrupted or failed turn)."""
        index = self.last_user_index()
        if index is not None:
            del self.messages[index:]

    def last_user_index(self) -> Optional[int]:
        """Where the last user message (the last turn's prompt) stands; None when there is none."""
        return last_user_index(self.messages)

    def indices_of(self, role: str) -> List[int]:
        """Positions in `messages` of the messages of one role."""
        return [i for i, m in enumerate(self.messages) if m["role"] == role]

    def last_reply(self) -> Optional[str]:
        """The text of the last assistant message, None if there is none."""
        replies = self.indices_of("assistant")
        return self.messages[replies[-1]]["content"] if replies else None

    def turns(self) -> List[Tuple[str, str]]:
        """(role, text) of every message but the system message (an image reads `[image]`, a tool call
        its name and arguments)."""
        return [(m["role"], readable_text(m)) for m in self.messages[1:]]

    def message_text(self, index: int) -> str:
        """The text of the message at `index` (an image reads `[image]`)."""
        return content_text(self.messages[index]["content"])

    # Files
    def resolve_path(self, name: Optional[str], suffix: str = ".json") -> Path:
        """The file NAME means: in the data dir unless it is a path; `suffix` added if it has none."""
        if not name:
            return self.path or self.data_directory / DEFAULT_SESSION_NAME
        path = Path(name).expanduser()
        if path.name in ("", ".", "..") or name.endswith(os.sep) or path.is_dir():
            raise ConfigError(f"{name}: is a directory; give a file name")
        if not path.suffix:
            path = path.with_name(path.name + suffix)
        if os.sep not in name and not name.startswith("~"):
            path = self.data_directory / path
        return path

    def resolve_start_file(self, name: str) -> Path:
        """The file `-f NAME` means: NAME itself when it exists as given (the shell's view), else as /load."""
        given = Path(name).expanduser()
        return given.resolve() if given.is_file() else self.resolve_path(name)

    def would_overwrite(self, name: Optional[str]) -> bool:
        """True when saving to NAME would replace an existing file other than this chat's own."""
        path = self.resolve_path(name)
        return path.exists() and not self._is_own_file(path)

    def _is_own_file(self, path: Path) -> bool:
        """The file this chat last saved or loaded, unchanged since (another llmc may have saved there)."""
        if self.path is None:
            return False
        try:
            return path.resolve() == self.path.resolve() and file_stamp(path) == self._path_stamp
        except OSError:
            return False

    def _remember(self, path: Path) -> None:
        self.path, self._path_stamp = path, file_stamp(path)

    def save(self, name: Optional[str] = None) -> Path:
        """Write the chat as indented JSON (atomic, mode 0600); ConfigError naming the file if it fails."""
        path = self.resolve_path(name)
        if path.parent == self.data_directory:
            ensure_directory(self.data_directory)
        text = json_text(self.messages, indent=4) + "\n"
        check_chat_size(text, path)
        try:
            atomic_write_text(path, text, mode=0o600)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot save the chat: {exc.strerror or exc}") from None
        self._remember(path)
        return path

    def load(self, name: Optional[str] = None) -> Path:
        """Replace the chat with a saved one; ConfigError naming the file (chat kept) if it is not one."""
        path = self.resolve_path(name)
        self.messages = read_session_file(path)
        self.chat_id = None  # a file loaded by name goes on as a new saved chat; the file is kept
        self._remember(path)
        return path

    # Markdown export
    def export_markdown(self, complete: Optional[Callable[[List[dict]], str]], model: str,
                        name: Optional[str] = None, now: Optional[datetime] = None,
                        on_asking: Optional[Callable[[], None]] = None) -> Path:
        """Write the chat as Markdown; title and file name come from `complete` (the model) if it can.

        `on_asking` is called just before the model is asked (the path is checked first)."""
        now = now or datetime.now()
        folder = self.resolve_path(name, ".md").parent if name else self.data_directory
        if folder != self.data_directory and not folder.is_dir():  # say so before asking the model
            problem = "not a directory" if folder.exists() else "no such directory"
            raise ConfigError(f"{folder}: {problem}; nothing exported")
        if complete is not None and on_asking is not None:
            on_asking()
        title, stem = suggest_title(complete, self.turns())
        stem = stem or f"chat-{now:%Y%m%d-%H%M%S}"
        path = unused_path(self.resolve_path(name or stem, ".md"))  # an earlier export is never replaced
        if path.parent == self.data_directory:
            ensure_directory(self.data_directory)
        models = ", ".join(self.answering_models()) or model  # a chat saved before models were kept
        text = format_markdown(title or f"Chat of {now:%Y-%m-%d %H:%M}", models, now, self.turns())
        try:
            atomic_write_text(path, text, mode=0o600)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write the Markdown file: {exc.strerror or exc}") from None
        return path


def unused_path(path: Path) -> Path:
    """`path`, or the first of `stem-2.ext`, `stem-3.ext`, … that does not exist yet."""
    candidate, number = path, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def read_session_file(path: Path) -> List[dict]:
    """The messages of a saved chat (a /save list or an autosaved chat's lines); ConfigError naming
    the file if it is missing, huge or not a chat."""
    text = read_text_file(path, "chat file", max_bytes=MAX_CHAT_FILE_BYTES)
    if text is None:
        raise ConfigError(f"{path}: no such chat file")
    try:
        data = json.loads(text)
    except ValueError as exc:
        if is_chat_lines(text):
            return parse_chat_lines(text, path)[1]
        raise ConfigError(f"{path}: not a chat file: invalid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a chat file: nested too deeply") from None
    return check_messages(data, path)


def is_chat_lines(text: str) -> bool:
    """True when the first line of `text` is an autosaved chat's header."""
    try:
        header = json.loads(text.lstrip().partition("\n")[0])
    except ValueError:
        return False
    return isinstance(header, dict) and CHAT_FORMAT_KEY in header


def check_messages(data: Any, path: Path) -> List[dict]:
    """The list of {"role", "content"} messages in `data`, system message first; ConfigError otherwise."""
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: not a chat file: expected a non-empty list of messages")
    try:
        messages = [_checked_message(item, str(number), path) for number, item in enumerate(data, 1)]
    except RecursionError:
        raise ConfigError(f"{path}: not a chat file: nested too deeply") from None
    if messages[0]["role"] != "system" or any(m["role"] == "system" for m in messages[1:]):
        raise ConfigError(f"{path}: not a chat file: the system message must come first, and only once")
    return messages


def _checked_message(item: Any, number: str, path: Path) -> dict:
    """One saved message as the chat keeps it (fields it does not know left out); ConfigError naming
    message `number` otherwise."""
    if (not isinstance(item, dict) or item.get("role") not in ROLES
            or not (isinstance(item.get("content"), str) or (item["role"] == "user"
                                                             and is_content_parts(item.get("content"))))):
        raise ConfigError(f"{path}: not a chat file: message {number} is not a "
                          f'{{"role": system|user|assistant|tool, "content": text}} object')
    if not isinstance(item.get("model", ""), str):
        raise ConfigError(f"{path}: not a chat file: message {number} has a model that is not text")
    message = {"role": item["role"], "content": _clean_content(item["content"])}
    usage = TokenUsage.from_reply(item.get("usage")) if item["role"] == "assistant" else None
    if usage is not None:  # counts that do not add up are dropped, never sent
        message["usage"] = usage.as_dict()
    if item.get("model"):  # the model that gave a reply: kept, never sent
        message["model"] = item["model"]
    if item["role"] == "system" and isinstance(item.get(ROLE_NAME_KEY), str):  # kept, never sent
        message[ROLE_NAME_KEY] = item[ROLE_NAME_KEY]
    message.update(_tool_fields(item, number, path))
    message.update(_alternatives_fields(item, number, path))
    return message


def _alternatives_fields(item: dict, number: str, path: Path) -> dict:
    """What a message replaced (see Alternatives): lists of messages, each checked as any other; kept,
    never sent."""
    alternatives = item.get(ALTERNATIVES_KEY)
    if not alternatives and CURRENT_AT_KEY not in item:
        return {}
    if not isinstance(alternatives, list) or not all(isinstance(tail, list) and tail for tail in alternatives):
        raise ConfigError(f"{path}: not a chat file: message {number} has alternatives that are not "
                          "lists of messages")
    at = item.get(CURRENT_AT_KEY, len(alternatives))
    if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at <= len(alternatives):
        raise ConfigError(f"{path}: not a chat file: message {number} has an {CURRENT_AT_KEY} that is not "
                          f"a number from 0 to {len(alternatives)}")
    checked = [[_checked_message(m, f"{number} (alternative {a}, message {n})", path)
                for n, m in enumerate(tail, 1)] for a, tail in enumerate(alternatives, 1)]
    if any(m["role"] == "system" for tail in checked for m in tail):
        raise ConfigError(f"{path}: not a chat file: message {number} has an alternative holding a system message")
    return {ALTERNATIVES_KEY: checked, **({CURRENT_AT_KEY: at} if CURRENT_AT_KEY in item else {})}


def _tool_fields(item: dict, number: str, path: Path) -> dict:
    """The tool calls of a saved reply, or the call a tool result answers (and the tool's name)."""
    if item["role"] == "assistant" and "tool_calls" in item:
        calls = tool_calls_of(item)
        if not calls or len(calls) != len(item["tool_calls"]):
            raise ConfigError(f"{path}: not a chat file: message {number} has tool_calls that are not a list "
                              "of {\"id\", \"function\": {\"name\", \"arguments\"}} objects")
        return {"tool_calls": [call.as_openai() for call in calls]}
    if item["role"] != "tool":
        return {}
    if not isinstance(item.get("tool_call_id"), str) or not isinstance(item.get("tool", ""), str):
        raise ConfigError(f"{path}: not a chat file: message {number}, a tool result, has no tool_call_id (text)")
    return {"tool_call_id": item["tool_call_id"], "tool": item.get("tool") or ""}


def _api_message(message: dict) -> dict:
    """One saved message as it is sent: what the chat keeps for the user alone left out."""
    content = message["content"]
    if message["role"] == "assistant" and isinstance(content, str):
        content = content.removesuffix(f"\n\n{INCOMPLETE_MARKER}")
    sent = {"role": message["role"], "content": content}
    if "tool_calls" in message:
        sent["tool_calls"] = message["tool_calls"]
    if message["role"] == "tool":
        sent["tool_call_id"] = message["tool_call_id"]
    return sent


def readable_text(message: dict) -> str:
    """A message as the user reads it (shown, exported): an image reads `[image]`, each tool call its name
    and its arguments as a JSON block."""
    text = content_text(message["content"])
    if message["role"] == "tool":  # what a tool gave back is text, never Markdown to obey
        return f"`{message.get('tool') or 'tool'}` gave:\n\n{fenced(text)}"
    for call in message.get("tool_calls") or []:
        function = call["function"]
        text += f"\n\nTool call `{function['name']}`:\n\n{fenced(function['arguments'], 'json')}"
    return text.strip()


def fenced(text: str, language: str = "") -> str:
    """`text` in a code fence longer than any run of backticks in it, so nothing in it ends the block."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _clean_content(content: Content) -> Content:
    """The content of a loaded message with lone surrogates replaced (in each text part too)."""
    if isinstance(content, str):
        return without_lone_surrogates(content)
    return [{**part, "text": without_lone_surrogates(part["text"])} if part["type"] == "text" else part
            for part in content]


def json_text(data: Any, indent: Optional[int] = None) -> str:
    """JSON as llmc writes chats: other scripts kept as they are, but what some readers take for a line
    break (U+0085, U+2028, U+2029) and lone surrogates (UTF-8 has no bytes for them) escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _ESCAPED_IN_FILES.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def check_chat_size(text: str, path: Path) -> None:
    """WriteError naming `path` when `text` is more than a chat file's reader reads (MAX_CHAT_FILE_BYTES)."""
    if len(text) * 4 <= MAX_CHAT_FILE_BYTES:  # UTF-8 takes at most 4 bytes a character: no need to count
        return
    size = len(text.encode("utf-8"))
    if size > MAX_CHAT_FILE_BYTES:
        raise WriteError(f"{path}: cannot save the chat: it would take {size_text(size)}, more than the "
                         f"{size_text(MAX_CHAT_FILE_BYTES)} llmc reads back as a chat file; the file is unchanged")


def format_chat_lines(header: dict, messages: List[dict]) -> str:
    """An autosaved chat: the header object on the first line, then one message per line (JSON Lines)."""
    lines = [json_text({CHAT_FORMAT_KEY: CHAT_FORMAT_VERSION, **header})]
    lines += [json_text(message) for message in messages]
    return "\n".join(lines) + "\n"


def parse_chat_lines(text: str, path: Path) -> Tuple[dict, List[dict]]:
    """(header, messages) of an autosaved chat; ConfigError naming the file and line if it is not one."""
    lines = [line for line in text.split("\n") if line.strip()]  # only \n ends a line: see json_text
    items = []
    for number, line in enumerate(lines, 1):
        try:
            items.append(json.loads(line))
        except ValueError as exc:
            raise ConfigError(f"{path}: not a chat file: line {number} is not JSON ({exc})") from None
        except RecursionError:
            raise ConfigError(f"{path}: not a chat file: line {number} is nested too deeply") from None
    header = items[0] if items else None
    if not isinstance(header, dict) or not isinstance(header.get(CHAT_FORMAT_KEY), int):
        raise ConfigError(f"{path}: not a chat file: the first line is not an llmc chat header")
    return header, check_messages(items[1:], path)


def suggest_title(complete: Optional[Callable[[List[dict]], str]],
                  turns: List[Tuple[str, str]]) -> Tuple[str, str]:
    """(title, file stem) proposed by the model; ("", "") if there is no model or its answer is unusable."""
    if complete is None or not turns:
        return "", ""
    excerpt = "\n\n".join(f"{role.upper()}: {content}" for role, content in turns)[:TITLE_EXCERPT_CHARS]
    try:
        answer = complete([{"role": "user", "content": TITLE_PROMPT + excerpt}])
    except Exception:  # noqa: BLE001 - any failure of the title request falls back to a timestamped name
        return "", ""
    match = re.search(r"\{.*\}", answer or "", re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return "", ""
    title = str(data.get("title") or "").strip().splitlines()[0:1]
    title_text = title[0][:120] if title else ""
    stem = slugify(str(data.get("filename") or ""))
    return ("" if title_text == TITLE_EXAMPLE["title"] else title_text,
            "" if stem == slugify(TITLE_EXAMPLE["filename"]) else stem)


def slugify(text: str) -> str:
    """A safe file stem: lower-case letters, digits and dashes, at most 60 characters."""
    stem = Path(text.strip()).stem if text.strip().lower().endswith(".md") else text
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug[:60].strip("-")


def format_markdown(title: str, model: str, now: datetime, turns: List[Tuple[str, str]]) -> str:
    """`# Title`, the model, the date, then `## User` / `## Assistant` sections."""
    parts = [f"# {title}\n({model})\n\nDate: {now:%Y-%m-%d %H:%M:%S}\n\n"]
    for role, content in turns:
        heading = {"user": "User", "tool": "Tool result"}.get(role, "Assistant")
        parts.append(f"## {heading}\n\n{content.strip()}\n\n")
    return "".join(parts)
