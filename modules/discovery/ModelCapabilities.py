"""What a model can take, where its provider says so: tool calls, image input, its context length."""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

MAX_CONTEXT_LENGTH = 100_000_000  # tokens; anything larger is taken as a garbled listing
CAPABILITY_FIELDS = ("tools", "images", "context_length")


class ModelCapabilities(BaseModel):
    """Tool calls and image input (True, False, or None: nobody said) and the context length in tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tools: Optional[bool] = None
    images: Optional[bool] = None
    context_length: Optional[int] = Field(default=None, ge=1, le=MAX_CONTEXT_LENGTH)

    @property
    def is_unknown(self) -> bool:
        """True when nothing is known."""
        return self.tools is None and self.images is None and self.context_length is None

    def merged(self, other: "ModelCapabilities") -> "ModelCapabilities":
        """These capabilities with what `other` knows put over them."""
        return self.model_copy(update={name: getattr(other, name) for name in CAPABILITY_FIELDS
                                       if getattr(other, name) is not None})

    def as_yaml(self) -> Dict[str, Union[bool, int]]:
        """The known fields for the providers YAML."""
        return {name: getattr(self, name) for name in CAPABILITY_FIELDS if getattr(self, name) is not None}

    def summary(self) -> str:
        """One short column for a model list: `tools images 128k ctx`, `no tools`, `?` for unknowns."""
        words = [_yes_no("tools", self.tools), _yes_no("images", self.images),
                 f"{_tokens(self.context_length)} ctx" if self.context_length else "ctx ?"]
        return " ".join(words)

    @classmethod
    def from_listing(cls, entry: Any) -> "ModelCapabilities":
        """What a /models entry says: OpenRouter's `supported_parameters`, `architecture.input_modalities`
        and `context_length`; Together's `context_length`; vLLM's `max_model_len`; LM Studio's `type`
        (vlm), `capabilities` and `max_context_length`; Mistral's `capabilities`; Groq's `context_window`."""
        if not isinstance(entry, dict):
            return cls()
        return cls(tools=_tools_of(entry), images=_images_of(entry), context_length=_context_of(entry))

    @classmethod
    def from_ollama_show(cls, body: Any) -> "ModelCapabilities":
        """What Ollama's POST /api/show says: `capabilities` (tools, vision) and `<arch>.context_length`."""
        if not isinstance(body, dict):
            return cls()
        capabilities = body.get("capabilities")
        words = {w for w in capabilities if isinstance(w, str)} if isinstance(capabilities, list) else None
        info = body.get("model_info")
        if not isinstance(info, dict):
            info = {}
        lengths = [v for k, v in info.items() if isinstance(k, str) and k.endswith(".context_length")]
        return cls(tools=None if words is None else "tools" in words,
                   images=None if words is None else "vision" in words,
                   context_length=_count(lengths[0]) if lengths else None)

    @classmethod
    def from_llamacpp_props(cls, body: Any) -> "ModelCapabilities":
        """What llama.cpp's GET /props says: `chat_template_caps.supports_tools`, `modalities.vision`
        and `default_generation_settings.n_ctx`."""
        if not isinstance(body, dict):
            return cls()
        template = body.get("chat_template_caps")
        modalities = body.get("modalities")
        settings = body.get("default_generation_settings")
        return cls(tools=_flag(template.get("supports_tools")) if isinstance(template, dict) else None,
                   images=_flag(modalities.get("vision")) if isinstance(modalities, dict) else None,
                   context_length=_count(settings.get("n_ctx")) if isinstance(settings, dict) else None)


def _tools_of(entry: Dict[str, Any]) -> Optional[bool]:
    parameters = entry.get("supported_parameters")
    if isinstance(parameters, list) and parameters:  # OpenRouter
        return "tools" in parameters
    capabilities = entry.get("capabilities")
    if isinstance(capabilities, dict):  # Mistral
        return _flag(capabilities.get("function_calling"))
    if isinstance(capabilities, list):  # LM Studio's /api/v0/models (0.3.16+)
        return "tool_use" in capabilities
    return None


def _images_of(entry: Dict[str, Any]) -> Optional[bool]:
    architecture = entry.get("architecture")
    inputs = architecture.get("input_modalities") if isinstance(architecture, dict) else None
    if isinstance(inputs, list) and inputs:  # OpenRouter
        return "image" in inputs
    capabilities = entry.get("capabilities")
    if isinstance(capabilities, dict):  # Mistral
        return _flag(capabilities.get("vision"))
    kind = entry.get("type")
    if kind in ("vlm", "llm") and "max_context_length" in entry:  # LM Studio: vlm takes images, llm none
        return kind == "vlm"
    return None


def _context_of(entry: Dict[str, Any]) -> Optional[int]:
    for field in ("context_length", "max_model_len", "max_context_length", "context_window"):
        length = _count(entry.get(field))
        if length is not None:
            return length
    top = entry.get("top_provider")
    return _count(top.get("context_length")) if isinstance(top, dict) else None


def _flag(value: Any) -> Optional[bool]:
    return value if isinstance(value, bool) else None


def _count(value: Any) -> Optional[int]:
    """A positive whole number of tokens within bounds, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    number = int(value)
    return number if 0 < number <= MAX_CONTEXT_LENGTH and number == value else None


def _yes_no(name: str, value: Optional[bool]) -> str:
    return name if value else f"no {name}" if value is False else f"{name} ?"


def _tokens(count: int) -> str:
    """A context length as people say it: 4096 and 4000 -> `4k`, 131072 and 128000 -> `128k`, 1048576 -> `1M`."""
    unit = 1024 if count % 1000 and not count % 1024 else 1000
    if count >= unit * unit:
        return f"{count / (unit * unit):.3g}M"
    return f"{count / unit:.3g}k" if count >= unit else str(count)


def capabilities_by_id(models: Iterable[Dict[str, Any]]) -> Dict[str, ModelCapabilities]:
    """The capabilities each /models entry states, by model id (entries that state nothing left out)."""
    found: Dict[str, ModelCapabilities] = {}
    for entry in models:
        capabilities = ModelCapabilities.from_listing(entry)
        if not capabilities.is_unknown:
            found.setdefault(entry["id"], capabilities)
    return found


CHARS_PER_TOKEN = 4  # a rough rule for English text and code; enough to say a conversation will not fit
IMAGE_TOKENS = 1000  # what an attached image roughly costs in most vision models
_NOT_ABOUT_THE_REQUEST = {401, 402, 403, 404, 408, 409, 413, 425, 429}


def estimated_tokens(messages: List[Dict[str, Any]], tools: Iterable[Dict[str, Any]] = ()) -> int:
    """Roughly how many tokens `messages` (and the tool definitions offered) take: characters / 4."""
    chars = sum(len(json.dumps(tool, ensure_ascii=False)) for tool in tools)
    images = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
            images += sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")
        for call in message.get("tool_calls") or []:
            chars += len(json.dumps(call, ensure_ascii=False))
    return chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS


def refusal_lesson(status: Optional[int], text: str, sent_tools: bool, sent_image: bool) -> ModelCapabilities:
    """What a refused request teaches of the model: a 4xx naming `tools` (tools were sent) means it takes
    no tool calls; one naming an image (an image was sent) that it takes no images. Unknown otherwise."""
    if status is None or not 400 <= status < 500 or status in _NOT_ABOUT_THE_REQUEST:
        return ModelCapabilities()
    lowered = text.lower()
    if sent_tools and re.search(r"\btool", lowered):
        return ModelCapabilities(tools=False)
    if sent_image and re.search(r"image|vision|multimodal|modalit", lowered):
        return ModelCapabilities(images=False)
    return ModelCapabilities()
