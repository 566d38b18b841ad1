"""The built-in providers (the plan's PROVIDER_DATA, which Types re-exports): plain data, so the shell completion
reads their names and models without importing pydantic."""
from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the way to --version (see cli/CommandLine)
if TYPE_CHECKING:
    from typing import Any, Dict

PROVIDER_DATA: Dict[str, Dict[str, Any]] = {
    "openai": {
        "name": "OpenAI",
        "base_api_url": "https://api.openai.com/v1",
        "api_key": "not-configured",
        "valid_models": {
            "gpt-4o-2024-08-06": "4o",
            "gpt-4o-mini-2024-07-18": "4o-mini",
            "gpt-4.1-mini-2025-04-14": "4.1-mini",
            "gpt-5-mini": "5-mini",
            "gpt-5-nano": "5-nano",
            "gpt-5": "5",
        },
    },
    "deepseek": {
        "name": "DeepSeek",
        "base_api_url": "https://api.deepseek.com/v1",
        "api_key": "ds-not-configured",
        "valid_models": {
            "deepseek-chat": "dschat",
            "deepseek-reasoner": "r1",
        },
    },
    "hyperbolic": {
        "name": "Hyperbolic",
        "base_api_url": "https://api.hyperbolic.xyz/v1",
        "api_key": "",
        "valid_models": {
            "Qwen/QwQ-32B": "qdub",
            "Qwen/Qwen2.5-72B-Instruct": "qinstruct",
            "moonshotai/Kimi-K2-Instruct": "k2",
        },
    },
    # Presets: OpenAI-compatible services whose models discovery fills in once their key is set
    # (NAME_API_KEY, or llmc --set-key NAME). Each base URL is the one the provider's own documentation gives.
    "openrouter": {  # openrouter.ai/docs/quickstart: base_url https://openrouter.ai/api/v1, OPENROUTER_API_KEY
        "name": "OpenRouter",
        "base_api_url": "https://openrouter.ai/api/v1",
    },
    "groq": {  # console.groq.com/docs/openai: base_url https://api.groq.com/openai/v1, GROQ_API_KEY
        "name": "Groq",
        "base_api_url": "https://api.groq.com/openai/v1",
    },
    "together": {  # docs.together.ai/docs/inference/openai-compatibility: https://api.together.ai/v1, TOGETHER_API_KEY
        "name": "Together AI",
        "base_api_url": "https://api.together.ai/v1",
    },
    "mistral": {  # docs.mistral.ai/api: POST https://api.mistral.ai/v1/chat/completions, GET /v1/models
        "name": "Mistral AI",
        "base_api_url": "https://api.mistral.ai/v1",
    },
    "fireworks": {  # fireworks.ai/docs/tools-sdks/openai-compatibility: https://api.fireworks.ai/inference/v1
        "name": "Fireworks AI",
        "base_api_url": "https://api.fireworks.ai/inference/v1",
    },
    "cerebras": {  # inference-docs.cerebras.ai/resources/openai: base_url https://api.cerebras.ai/v1
        "name": "Cerebras",
        "base_api_url": "https://api.cerebras.ai/v1",
    },
    "deepinfra": {  # deepinfra.com/docs/openai_api: "The endpoint ... is https://api.deepinfra.com/v1/openai"
        "name": "DeepInfra",
        "base_api_url": "https://api.deepinfra.com/v1/openai",
    },
    "xai": {  # docs.x.ai/api/integrations: base_url https://api.x.ai/v1, XAI_API_KEY
        "name": "xAI",
        "base_api_url": "https://api.x.ai/v1",
    },
    "gemini": {  # ai.google.dev/gemini-api/docs/openai: https://generativelanguage.googleapis.com/v1beta/openai/
        "name": "Google Gemini",
        "base_api_url": "https://generativelanguage.googleapis.com/v1beta/openai",
    },
}
