"""ModelMetadata: the /models fields that show a model cannot chat."""
from __future__ import annotations

import pytest

from llmc.discovery.ModelMetadata import non_chat_reason


@pytest.mark.parametrize("entry, reason", [
    ({"id": "BAAI/bge-large-en-v1.5", "type": "embedding"}, "type embedding"),
    ({"id": "black-forest-labs/FLUX.1-schnell", "type": "image"}, "type image"),
    ({"id": "cartesia/sonic", "type": "audio"}, "type audio"),
    ({"id": "meta-llama/Llama-Guard-4-12B", "type": "moderation"}, "type moderation"),
    ({"id": "Salesforce/Llama-Rank-V1", "type": "rerank"}, "type rerank"),
    ({"id": "openai/whisper-large-v3", "type": "Transcribe"}, "type transcribe"),
    ({"id": "text-embedding-nomic-embed-text-v1.5", "type": "embeddings"}, "type embeddings"),
    ({"id": "google/gemini-2.5-flash-image", "architecture": {"output_modalities": ["image"]}}, "output image"),
    ({"id": "mistral-embed", "capabilities": {"completion_chat": False}}, "no chat completion"),
])
def test_non_chat_models_are_named_with_the_reason(entry, reason):
    assert non_chat_reason(entry) == reason


@pytest.mark.parametrize("entry", [
    {"id": "gpt-4o"}, {"id": "m", "type": "chat"}, {"id": "m", "type": "language"}, {"id": "m", "type": "code"},
    {"id": "m", "type": "llm"}, {"id": "m", "type": "vlm"}, {"id": "m", "type": 7},
    {"id": "m", "architecture": {"output_modalities": ["text", "image"]}},
    {"id": "m", "architecture": {"output_modalities": []}}, {"id": "m", "architecture": "text->text"},
    {"id": "m", "architecture": {"output_modalities": [None]}},
    {"id": "m", "capabilities": {"completion_chat": True}}, {"id": "m", "capabilities": {"completion_chat": "no"}},
    "not a dict", None,
])
def test_metadata_that_does_not_rule_chat_out_says_nothing(entry):
    assert non_chat_reason(entry) is None
