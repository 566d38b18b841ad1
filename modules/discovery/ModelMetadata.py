"""What a provider's /models entry says about a model: whether it is no chat model at all."""
from __future__ import annotations

from typing import Any, Optional

# Together's and LM Studio's `type` values of models that do not chat (Together: chat, language and
# code models chat; LM Studio: llm and vlm do).
NON_CHAT_TYPES = frozenset({"embedding", "embeddings", "image", "audio", "moderation", "rerank",
                            "transcribe", "transcription", "tts", "stt", "video"})


def non_chat_reason(entry: Any) -> Optional[str]:
    """Why the entry's own metadata says the model cannot chat, or None when it says nothing of the kind.

    Together and LM Studio give a `type`; OpenRouter `architecture.output_modalities` (no "text":
    an image or audio model); Mistral `capabilities.completion_chat`.
    """
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    if isinstance(kind, str) and kind.strip().lower() in NON_CHAT_TYPES:
        return f"type {kind.strip().lower()}"
    architecture = entry.get("architecture")
    outputs = architecture.get("output_modalities") if isinstance(architecture, dict) else None
    if isinstance(outputs, list) and outputs and all(isinstance(o, str) for o in outputs) \
            and "text" not in (o.lower() for o in outputs):
        return f"output {'+'.join(outputs)}"
    capabilities = entry.get("capabilities")
    if isinstance(capabilities, dict) and capabilities.get("completion_chat") is False:
        return "no chat completion"
    return None
