"""The streaming benchmark's reference: a minimal client that prints the reply's deltas as they come, unrendered.

usage: plain_client.py BASE_URL MODEL PROMPT   (key from FAKE_API_KEY, default "test-key")
"""
import json
import os
import sys

import requests


def main() -> int:
    base_url, model, prompt = sys.argv[1:4]
    response = requests.post(f"{base_url}/chat/completions", stream=True, timeout=60,
                             headers={"Authorization": f"Bearer {os.environ.get('FAKE_API_KEY', 'test-key')}"},
                             json={"model": model, "stream": True,
                                   "messages": [{"role": "user", "content": prompt}]})
    response.raise_for_status()
    out = sys.stdout
    for line in response.iter_lines():
        if not line.startswith(b"data: "):
            continue
        payload = line[6:]
        if payload == b"[DONE]":
            break
        text = json.loads(payload)["choices"][0]["delta"].get("content")
        if text:
            out.write(text)
            out.flush()
    out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
