"""Discovery: llmc's parallel discovery vs the plan's serial algorithm, side by side on one loopback server.

120 chat models + 3 non-chat models, every request answered after 100 ms. Targets: llmc takes at most
1/8 of the serial time, at most 1.25x a bare parallel client at the same concurrency (a thread pool
of requests sessions sending the same pings, nothing else), and at most 1.5x the ideal
(models / concurrency x latency).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (MAIN, PYTHON, fake_server, isolated_env, report, run_timed, work_dir,  # noqa: E402
                     write_data_dir)

CHAT = [f"chat-model-{i:03d}" for i in range(120)]
NON_CHAT = ["text-embedding-1", "tts-1", "whisper-1"]


def serial_plan_discovery(base_url: str, api_key: str) -> tuple[list, list]:
    """The plan's algorithm, one request at a time: GET /models, then ping each model in turn."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    response = requests.get(f"{base_url}/models", headers=headers, timeout=10)
    response.raise_for_status()
    valid, invalid = [], []
    for model in [m["id"] for m in response.json().get("data", [])]:
        data = {"model": model, "messages": [
            {"role": "system", "content": "If I say 'ping', you will respond with 'pong'."},
            {"role": "user", "content": "ping"}], "max_tokens": 10, "temperature": 0.1}
        try:
            reply = requests.post(f"{base_url}/chat/completions", headers=headers, json=data, timeout=10)
            reply.raise_for_status()
            content = reply.json().get("choices", [{}])[0].get("message", {}).get("content", "")
            (valid if "pong" in content.lower() else invalid).append(model)
        except Exception:
            invalid.append(model)
    return valid, invalid


def bare_parallel_discovery(base_url: str, api_key: str, concurrency: int) -> tuple[list, list]:
    """The least a parallel client must do: GET /models, then the pings llmc sends, `concurrency` at a time."""
    headers = {"Authorization": f"Bearer {api_key}"}
    sessions = threading.local()

    def session() -> requests.Session:
        if not hasattr(sessions, "value"):
            sessions.value = requests.Session()
        return sessions.value

    models = [m["id"] for m in session().get(f"{base_url}/models", headers=headers, timeout=10).json()["data"]]

    def ping(model: str) -> bool:
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.0,
                "stream": False, "max_tokens": 16}
        reply = session().post(f"{base_url}/chat/completions", headers=headers, json=body, timeout=10)
        return reply.ok and isinstance(reply.json()["choices"][0]["message"], dict)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        verdicts = list(pool.map(ping, models))
    return ([m for m, ok in zip(models, verdicts) if ok], [m for m, ok in zip(models, verdicts) if not ok])


def llmc_discovery(data_dir: Path, concurrency: int) -> tuple[float, list, list, object]:
    """llmc's discovery in this process (the same code `llmc --discover-models fake` runs)."""
    from llmc.Config import Config
    # Told nothing: results and "persisted to …" are no figures; the concurrency as --concurrency gives it.
    config = Config(data_directory=data_dir, concurrency=concurrency)
    providers = config.config.providers
    started = time.perf_counter()
    ok = providers.discover_and_validate_models(provider_filter="fake")
    seconds = time.perf_counter() - started
    if not ok:
        raise RuntimeError("llmc discovery failed")
    throttle = providers.discovery_service.throttle_for(providers["fake"], "fake")
    return seconds, providers.get_available_models("fake"), providers["fake"].get_invalid_models(), throttle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    work = work_dir("llmc-bench-discovery-")
    env = isolated_env(work / "home")
    os.environ["HOME"] = str(work / "home")
    requests_total = len(CHAT) + len(NON_CHAT)
    with fake_server(chat_models=CHAT, non_chat_models=NON_CHAT, latency=args.latency, reply="pong") as url:
        data_dir = write_data_dir(work / "data", url)
        seconds, valid, invalid, throttle = llmc_discovery(data_dir, args.concurrency)
        started = time.perf_counter()
        ref_valid, ref_invalid = serial_plan_discovery(url, "test-key")
        serial = time.perf_counter() - started
        started = time.perf_counter()
        bare_valid, bare_invalid = bare_parallel_discovery(url, "test-key", args.concurrency)
        bare = time.perf_counter() - started
        cli_dir = write_data_dir(work / "cli", url)
        cli = run_timed([PYTHON, MAIN, "-d", str(cli_dir), "--discover-models", "fake",
                         "--concurrency", str(args.concurrency)], env)[0]

    storm = [{"path": "/chat/completions", "fault": {"status": 429, "retry_after": "0.5"}, "times": 40}]
    with fake_server(chat_models=CHAT, non_chat_models=NON_CHAT, latency=args.latency, reply="pong",
                     faults=storm) as url:
        storm_dir = write_data_dir(work / "storm", url)
        storm_seconds, storm_valid, storm_invalid, storm_throttle = llmc_discovery(storm_dir, args.concurrency)

    ideal = requests_total / args.concurrency * args.latency
    rounds = (math.ceil(requests_total / args.concurrency) + 1) * args.latency  # + the GET /models
    same = (valid, invalid) == (ref_valid, ref_invalid) == (bare_valid, bare_invalid)
    ok_serial = report(f"Discovery of {len(CHAT)} chat + {len(NON_CHAT)} non-chat models, "
                       f"{args.latency * 1000:.0f} ms per request",
                       f"parallel, concurrency {args.concurrency}", seconds,
                       "plan's serial algorithm", serial, "<= 0.125", seconds <= serial / 8)
    ok_bare = report("Discovery vs a bare parallel client", f"parallel, concurrency {args.concurrency}", seconds,
                     f"bare thread pool, concurrency {args.concurrency}", bare, "<= 1.25", seconds <= 1.25 * bare)
    ok_ideal = report("Discovery vs the ideal", f"parallel, concurrency {args.concurrency}", seconds,
                      f"ideal {requests_total}/{args.concurrency} x {args.latency:g} s", ideal, "<= 1.5",
                      seconds <= 1.5 * ideal)
    print(f"  (lower bound with the GET /models and whole rounds: {rounds:.3f} s; "
          f"peak in flight {throttle.peak_in_flight}, rate-limit pauses {throttle.backoffs})")
    print(f"  whole CLI run `llmc --discover-models fake` incl. start-up: {cli:.3f} s")
    print(f"  same valid/invalid lists, same order as the serial algorithm and the bare client: "
          f"{'yes' if same else 'NO'}")
    storm_ok = (storm_valid, storm_invalid) == (valid, invalid)
    print(f"429 storm (the first 40 pings answered 429, Retry-After 0.5 s): {storm_seconds:.3f} s, "
          f"{storm_throttle.backoffs} shared pauses, concurrency down to {storm_throttle.lowest_allowed} "
          f"and back to {storm_throttle.allowed}, "
          f"results unchanged (no model marked invalid): {'yes' if storm_ok else 'NO'}")
    return 0 if ok_serial and ok_bare and ok_ideal and same and storm_ok else 1


if __name__ == "__main__":
    sys.exit(main())
