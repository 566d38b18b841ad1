"""ModelCapabilities: what each provider's listing and local server endpoints say a model can take."""
from __future__ import annotations

import pytest

from llmc.discovery.ModelCapabilities import MAX_CONTEXT_LENGTH, ModelCapabilities, capabilities_by_id

OPENROUTER_ENTRY = {
    "id": "openai/gpt-4o", "context_length": 128000,
    "architecture": {"input_modalities": ["text", "image", "file"], "output_modalities": ["text"]},
    "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
    "supported_parameters": ["max_tokens", "temperature", "tools", "tool_choice", "response_format"]}


@pytest.mark.parametrize("entry, expected", [
    (OPENROUTER_ENTRY, ModelCapabilities(tools=True, images=True, context_length=128000)),
    ({"id": "x", "context_length": 4096, "architecture": {"input_modalities": ["text"]},
      "supported_parameters": ["temperature", "max_tokens"]},
     ModelCapabilities(tools=False, images=False, context_length=4096)),
    ({"id": "meta-llama/Llama-3-8b", "type": "chat", "context_length": 8192},  # Together
     ModelCapabilities(context_length=8192)),
    ({"id": "Qwen/Qwen2.5-7B", "object": "model", "owned_by": "vllm", "max_model_len": 32768},  # vLLM
     ModelCapabilities(context_length=32768)),
    ({"id": "qwen2-vl", "type": "vlm", "max_context_length": 32768},  # LM Studio /api/v0/models
     ModelCapabilities(images=True, context_length=32768)),
    ({"id": "llama", "type": "llm", "max_context_length": 131072, "capabilities": ["tool_use"]},
     ModelCapabilities(tools=True, images=False, context_length=131072)),
    ({"id": "mistral-small", "max_context_length": 32768,  # Mistral
      "capabilities": {"completion_chat": True, "function_calling": True, "vision": False}},
     ModelCapabilities(tools=True, images=False, context_length=32768)),
    ({"id": "llama-3.3-70b-versatile", "context_window": 131072}, ModelCapabilities(context_length=131072)),  # Groq
    ({"id": "gpt-4o", "object": "model", "owned_by": "openai"}, ModelCapabilities()),  # OpenAI says nothing
])
def test_a_listing_entry_says_what_its_provider_says(entry, expected):
    assert ModelCapabilities.from_listing(entry) == expected


@pytest.mark.parametrize("garbled", [
    {"context_length": -1}, {"context_length": 0}, {"context_length": "8192"}, {"context_length": True},
    {"context_length": 1.5}, {"context_length": float("nan")}, {"context_length": MAX_CONTEXT_LENGTH + 1},
    {"supported_parameters": "tools"}, {"architecture": ["image"]}, {"capabilities": {"vision": "yes"}},
])
def test_a_garbled_figure_says_nothing(garbled):
    assert ModelCapabilities.from_listing({"id": "x", **garbled}).is_unknown


def test_ollama_show_and_llamacpp_props():
    assert ModelCapabilities.from_ollama_show({
        "capabilities": ["completion", "tools", "vision"],
        "model_info": {"general.architecture": "gemma3", "gemma3.context_length": 131072}}) == \
        ModelCapabilities(tools=True, images=True, context_length=131072)
    assert ModelCapabilities.from_ollama_show({"capabilities": ["completion"], "model_info": {}}) == \
        ModelCapabilities(tools=False, images=False)
    assert ModelCapabilities.from_ollama_show({"modelfile": "old servers say no capabilities"}).is_unknown
    assert ModelCapabilities.from_llamacpp_props({
        "default_generation_settings": {"n_ctx": 8192}, "modalities": {"vision": False, "audio": False},
        "chat_template_caps": {"supports_tools": True, "supports_tool_calls": True}}) == \
        ModelCapabilities(tools=True, images=False, context_length=8192)
    assert ModelCapabilities.from_llamacpp_props({"default_generation_settings": {"n_ctx": 4096}}) == \
        ModelCapabilities(context_length=4096)
    assert ModelCapabilities.from_llamacpp_props(["not", "a", "mapping"]).is_unknown


def test_merged_keeps_what_the_newer_does_not_say():
    known = ModelCapabilities(tools=True, images=True, context_length=8192)
    assert known.merged(ModelCapabilities(tools=False)) == ModelCapabilities(tools=False, images=True,
                                                                            context_length=8192)
    assert known.merged(ModelCapabilities()) == known


def test_yaml_fields_and_summary():
    assert ModelCapabilities(tools=False, context_length=4096).as_yaml() == {"tools": False, "context_length": 4096}
    assert ModelCapabilities().as_yaml() == {}
    assert ModelCapabilities(tools=True, images=False, context_length=128000).summary() == "tools no images 128k ctx"
    assert ModelCapabilities().summary() == "tools ? images ? ctx ?"
    assert ModelCapabilities(context_length=1048576).summary().endswith("1M ctx")


def test_capabilities_by_id_leaves_out_entries_that_say_nothing():
    found = capabilities_by_id([OPENROUTER_ENTRY, {"id": "plain"}, {"id": "openai/gpt-4o", "context_length": 1}])
    assert list(found) == ["openai/gpt-4o"] and found["openai/gpt-4o"].context_length == 128000


def test_estimated_tokens_counts_text_parts_images_calls_and_tools():
    from llmc.discovery.ModelCapabilities import IMAGE_TOKENS, estimated_tokens
    assert estimated_tokens([{"role": "user", "content": "x" * 400}]) == 100
    parts = [{"type": "text", "text": "y" * 40}, {"type": "image_url", "image_url": {"url": "data:..."}}]
    assert estimated_tokens([{"role": "user", "content": parts}]) == 10 + IMAGE_TOKENS
    call = {"id": "c", "type": "function", "function": {"name": "t", "arguments": "{}"}}
    assert estimated_tokens([{"role": "assistant", "content": "", "tool_calls": [call]}], [{"name": "t"}]) > 0


@pytest.mark.parametrize("status, text, tools, image, expected", [
    (400, "fake: tools is not supported for this model", True, False, ModelCapabilities(tools=False)),
    (400, "fake: Unrecognized request argument supplied: tools", True, True, ModelCapabilities(tools=False)),
    (400, "fake: registry.ollama.ai/library/gemma does not support tools", True, False,
     ModelCapabilities(tools=False)),
    (400, "fake: Invalid content type. image_url is only supported by certain models.", False, True,
     ModelCapabilities(images=False)),
    (400, "fake: tools is not supported", False, False, ModelCapabilities()),  # no tools were sent
    (429, "fake: too many tool requests", True, False, ModelCapabilities()),  # rate limits teach nothing
    (401, "fake: image key refused", False, True, ModelCapabilities()),
    (500, "fake: tools crashed", True, False, ModelCapabilities()),
    (400, "fake: messages too long", True, True, ModelCapabilities()),
])
def test_a_refusal_teaches_only_what_it_names(status, text, tools, image, expected):
    from llmc.discovery.ModelCapabilities import refusal_lesson
    assert refusal_lesson(status, text, tools, image) == expected
