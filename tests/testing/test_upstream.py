"""Each scripted behaviour, seen from a plain httpx client over a real loopback socket."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from rulerouter.testing import (
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    Faults,
    LoopbackUpstream,
    Malformed,
    MissingChoices,
    RecordedRequest,
    Reply,
    Reset,
    Slow,
    Status,
    StreamBreak,
)


def test_reply_is_an_openai_chat_completion(up, chat):
    up.script("m", Reply("Paris is the capital of France."))
    r = chat("m", "What is the capital of France?")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    data = r.json()
    assert data["id"].startswith("chatcmpl-")
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int)
    assert data["model"] == "m"
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Paris is the capital of France."}
    assert choice["finish_reason"] == "stop"
    # ~len/4, rounded up: 30 prompt chars -> 8 tokens, 31 answer chars -> 8 tokens
    assert data["usage"] == {"prompt_tokens": 8, "completion_tokens": 8, "total_tokens": 16}


def test_reply_token_counts_and_finish_reason_can_be_scripted(up, chat):
    up.script("m", Reply("cut", prompt_tokens=1000, completion_tokens=7, finish_reason="length"))
    data = chat("m").json()
    assert data["usage"] == {"prompt_tokens": 1000, "completion_tokens": 7, "total_tokens": 1007}
    assert data["choices"][0]["finish_reason"] == "length"


def test_stream_reply_sends_chunks_then_done(up, client, body, sse):
    up.script("m", Reply("one two three"))
    r = client.post("/chat/completions", json=body("m", stream=True))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["transfer-encoding"] == "chunked"
    events = sse(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "m" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "one two three"
    assert len(chunks) == 4  # three words, then the finishing chunk
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert all("usage" not in c for c in chunks)


def test_stream_with_include_usage_ends_with_a_usage_chunk(up, client, body, sse):
    up.script("m", Reply("four score", completion_tokens=2))
    r = client.post("/chat/completions", json=body("m", "abcdefgh", stream=True,
                                                   stream_options={"include_usage": True}))
    events = sse(r.text)
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert events[-3]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("code, error_type", [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (404, "not_found_error"), (500, "server_error"), (503, "server_error"),
])
def test_status_answers_with_the_openai_error_shape(up, chat, code, error_type):
    up.script("m", Status(code, message=f"scripted {code}", code_str="scripted"))
    r = chat("m")
    assert r.status_code == code
    assert r.json() == {"error": {"message": f"scripted {code}", "type": error_type, "param": None,
                                  "code": "scripted"}}
    assert "retry-after" not in r.headers


def test_status_has_a_default_message():
    with LoopbackUpstream(default=Status(502)) as up:
        r = httpx.post(f"{up.base_url}/chat/completions", json={"model": "m", "messages": []})
    assert r.status_code == 502
    assert r.json()["error"]["message"] == "Bad gateway."


@pytest.mark.parametrize("retry_after, header", [(2, "2"), (0.5, "0.5"), (3.0, "3")])
def test_429_carries_retry_after(up, chat, retry_after, header):
    up.script("m", Status(429, retry_after=retry_after))
    r = chat("m")
    assert r.status_code == 429
    assert r.headers["retry-after"] == header
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_status_rejects_non_error_codes():
    with pytest.raises(ValueError):
        Status(200)


def test_context_length_exceeded_looks_like_openai(up, chat):
    up.script("m", ContextLengthExceeded(limit=10))
    r = chat("m", "x" * 400)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("This model's maximum context length is 10 tokens.")
    assert "resulted in 100 tokens" in error["message"]


def test_errors_on_a_stream_request_come_before_any_chunk(up, client, body):
    up.script("m", Status(503), ContextLengthExceeded())
    for expected in (503, 400):
        r = client.post("/chat/completions", json=body("m", stream=True))
        assert r.status_code == expected
        assert r.headers["content-type"] == "application/json"
        assert "data:" not in r.text and "error" in r.json()


def test_slow_makes_the_client_time_out(up, client, body):
    up.script("m", Slow(2.0))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json=body("m"), timeout=0.2)


def test_slow_answers_with_then_after_waiting(up, chat):
    up.script("m", Slow(0.2, then=Reply("late")))
    started = time.perf_counter()
    r = chat("m")
    assert time.perf_counter() - started >= 0.2
    assert r.json()["choices"][0]["message"]["content"] == "late"


def test_slow_does_not_block_other_connections(up, body):
    up.script("slow", Slow(3.0))
    slow_result: list[object] = []

    def call_slow() -> None:
        slow_result.append(httpx.post(f"{up.base_url}/chat/completions", json=body("slow"), timeout=5).status_code)

    thread = threading.Thread(target=call_slow)
    thread.start()
    while not up.requests:  # the slow request has arrived and is waiting
        time.sleep(0.01)
    r = httpx.post(f"{up.base_url}/chat/completions", json=body("fast"), timeout=5)
    assert r.status_code == 200
    assert slow_result == []  # the fast answer came while the slow one was still waiting
    thread.join()
    assert slow_result == [200]


def test_reply_delay_waits_before_answering(up, chat):
    up.script("m", Reply("eventually", delay=0.2))
    started = time.perf_counter()
    assert chat("m").json()["choices"][0]["message"]["content"] == "eventually"
    assert time.perf_counter() - started >= 0.2


def test_reset_drops_the_connection_without_a_response(up, chat):
    up.script("m", Reset())
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        chat("m")
    assert chat("m").status_code == 200  # the server itself carries on


def test_reset_on_a_stream_request(up, client, body):
    up.script("m", Reset())
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post("/chat/completions", json=body("m", stream=True))


def test_malformed_is_a_200_that_is_not_json(up, chat):
    up.script("m", Malformed(), Malformed(body=b"<html>oops</html>", content_type="text/html"))
    r = chat("m")
    assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"not json", "application/json")
    with pytest.raises(json.JSONDecodeError):
        r.json()
    r = chat("m")
    assert (r.content, r.headers["content-type"]) == (b"<html>oops</html>", "text/html")


def test_malformed_stream_sends_an_event_that_is_not_json(up, client, body, sse):
    up.script("m", Malformed())
    r = client.post("/chat/completions", json=body("m", stream=True))
    assert sse(r.text) == ["not json", "[DONE]"]


def test_missing_choices_is_json_without_choices(up, client, chat, body, sse):
    up.script("m", MissingChoices(), MissingChoices())
    data = chat("m").json()
    assert data["object"] == "chat.completion" and "choices" not in data
    events = sse(client.post("/chat/completions", json=body("m", stream=True)).text)
    assert "choices" not in events[0] and events[-1] == "[DONE]"


def test_error_object_is_a_200_carrying_an_error(up, client, chat, body, sse):
    up.script("m", ErrorObject(message="boom", code_str="server_is_sad"), ErrorObject())
    r = chat("m")
    assert r.status_code == 200
    assert r.json() == {"error": {"message": "boom", "type": "server_error", "param": None, "code": "server_is_sad"}}
    events = sse(client.post("/chat/completions", json=body("m", stream=True)).text)
    assert "error" in events[0]


@pytest.mark.parametrize("after_chunks", [0, 2, 5])
def test_stream_break_sends_n_chunks_then_drops(up, client, body, after_chunks):
    up.script("m", StreamBreak(after_chunks=after_chunks, content="alpha beta gamma"))
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/chat/completions", json=body("m", stream=True)) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    received.append(line.removeprefix("data: "))
    assert "[DONE]" not in received
    deltas = [json.loads(e)["choices"][0]["delta"]["content"] for e in received]
    assert deltas == ["alpha ", "beta ", "gamma", "alpha ", "beta "][:after_chunks]


def test_stream_break_on_a_non_stream_request_truncates_the_body(up, chat):
    up.script("m", StreamBreak())
    with pytest.raises(httpx.RemoteProtocolError):
        chat("m")


def test_echo_auth_puts_the_authorization_header_in_the_error(up, chat):
    up.script("m", EchoAuth(), EchoAuth(status=403))
    r = chat("m", headers={"Authorization": "Bearer sk-secret-123"})
    assert r.status_code == 401
    assert "Bearer sk-secret-123" in r.json()["error"]["message"]
    assert chat("m").status_code == 403


def test_a_hook_decides_from_the_request(up, chat):
    def judge(request: RecordedRequest) -> Reply:
        return Reply("0.2" if "poor" in request.prompt else "0.9")

    up.default(judge, model="judge")
    assert chat("judge", "Rate this poor answer").json()["choices"][0]["message"]["content"] == "0.2"
    assert chat("judge", "Rate this fine answer").json()["choices"][0]["message"]["content"] == "0.9"
    assert [r.behaviour for r in up.requests] == [Reply("0.2"), Reply("0.9")]


def test_a_failing_hook_answers_500_with_the_reason(up, chat):
    up.script("m", lambda request: 1 / 0, lambda request: "not a behaviour")
    first, second = chat("m"), chat("m")
    assert first.status_code == second.status_code == 500
    assert "ZeroDivisionError" in first.json()["error"]["message"]
    assert "not a behaviour" in second.json()["error"]["message"]


def test_queue_then_model_default_then_global_default(up, chat):
    up.script("a", Status(503), Reply("from queue"))
    up.default(Reply("model default"), model="a")
    up.default(Reply("global default"))
    answers = [chat("a") for _ in range(3)] + [chat("b")]
    assert answers[0].status_code == 503
    assert [r.json()["choices"][0]["message"]["content"] for r in answers[1:]] == [
        "from queue", "model default", "global default"]
    assert up.pending() == {}


def test_without_any_script_every_model_gets_ok(up, chat):
    assert chat("anything").json()["choices"][0]["message"]["content"] == "ok"


def test_requests_record_every_attempt_in_order(up, chat, client):
    up.script("cheap", Status(503))
    chat("cheap", "first", headers={"Authorization": "Bearer k"}, temperature=0)
    chat("strong", "first", stream=True)
    client.get("/models")
    records = up.requests
    assert [(r.method, r.path, r.model) for r in records] == [
        ("POST", "/v1/chat/completions", "cheap"), ("POST", "/v1/chat/completions", "strong"),
        ("GET", "/v1/models", None)]
    cheap, strong, models = records
    assert cheap.body == {"model": "cheap", "messages": [{"role": "user", "content": "first"}], "temperature": 0}
    assert cheap.headers["authorization"] == "Bearer k"
    assert cheap.prompt == "first"
    assert (cheap.stream, strong.stream) == (False, True)
    assert (cheap.behaviour, strong.behaviour, models.behaviour) == (Status(503), Reply(), None)
    assert not cheap.injected


def test_clear_forgets_records_but_keeps_scripts_and_reset_forgets_everything(up, chat):
    up.script("m", Reply("1"), Reply("2"), Reply("3"))
    up.default(Reply("model default"), model="m")
    chat("m")
    up.clear()
    assert up.requests == []
    assert up.pending() == {"m": 2}
    assert chat("m").json()["choices"][0]["message"]["content"] == "2"
    up.reset()
    assert up.requests == [] and up.pending() == {}
    assert chat("m").json()["choices"][0]["message"]["content"] == "ok"


def test_script_accepts_only_behaviours_and_hooks(up):
    with pytest.raises(TypeError):
        Slow(1, then="late")
    with pytest.raises(TypeError):
        up.script("m", "not a behaviour")
    with pytest.raises(TypeError):
        up.script("m", Faults())  # Faults is a default, not one answer
    up.default(Faults(rate=0))  # ...which is fine


def test_unknown_path_is_a_404_in_openai_error_shape(up, client):
    for r in (client.get("/nope"), client.post("/completions", json={}), client.get("/chat/completions")):
        assert r.status_code == 404
        assert set(r.json()["error"]) >= {"message", "type", "code"}
    assert up.requests[0].behaviour.code == 404


def test_models_lists_advertised_scripted_and_seen_models(body):
    with LoopbackUpstream(models=["advertised"]) as up, httpx.Client(base_url=up.base_url) as client:
        up.script("scripted", Reply())
        client.post("/chat/completions", json=body("seen"))
        data = client.get("/models").json()
        assert data["object"] == "list"
        assert [m["id"] for m in data["data"]] == ["advertised", "scripted", "seen"]
        assert client.get("/models/seen").json()["id"] == "seen"


def test_healthz(up):
    r = httpx.get(f"{up.url}/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("payload, message", [
    (b"{not json", "could not parse the JSON body"),
    (b'{"messages": []}', "you must provide a model parameter"),
    (b'{"model": "m"}', "Missing required parameter: 'messages'."),
])
def test_invalid_chat_bodies_are_400(up, client, payload, message):
    r = client.post("/chat/completions", content=payload)
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]
    assert isinstance(up.requests[-1].behaviour, Status)


def test_keep_alive_reuses_one_connection(up, chat):
    for _ in range(3):
        chat("m")
    assert len({r.connection for r in up.requests}) == 1


def test_connection_close_is_honoured(up, body):
    with httpx.Client(base_url=up.base_url, headers={"Connection": "close"}) as client:
        responses = [client.post("/chat/completions", json=body("m")) for _ in range(2)]
    assert all(r.headers["connection"] == "close" for r in responses)
    first, second = up.requests
    assert first.connection != second.connection


def test_stop_closes_connections_and_frees_the_port(body):
    up = LoopbackUpstream().start()
    port = up.port
    up.script("m", Slow(30))
    outcome: list[BaseException] = []

    def wait_forever() -> None:
        try:
            httpx.post(f"{up.base_url}/chat/completions", json=body("m"), timeout=10)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait_forever)
    thread.start()
    while not up.requests:
        time.sleep(0.01)
    up.stop()
    thread.join(5)
    assert not thread.is_alive()  # stopping ended the pending request instead of waiting for it
    assert outcome and isinstance(outcome[0], httpx.TransportError)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        _ = up.base_url
    up.stop()  # a second stop is harmless
    with LoopbackUpstream(port=port) as again:  # the port can be bound again at once
        assert again.port == port


def test_starting_twice_is_an_error():
    with LoopbackUpstream() as up:
        with pytest.raises(RuntimeError):
            up.start()


def test_start_reports_a_port_in_use():
    with LoopbackUpstream() as up:
        with pytest.raises(OSError):
            LoopbackUpstream(port=up.port).start()
