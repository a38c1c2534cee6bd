"""Fault injection: a local fake OpenAI-compatible server that fails on purpose (500s, hangs, bad bodies)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dualalign.errors import EngineError
from dualalign.generate import EngineConfig, GenerationRequest, SamplingConfig, make_engine
from dualalign.generate.sampling import DEFAULTS
from dualalign.generate.server import free_port


class FakeServer:
    """Answers /chat/completions by a script keyed on the user message: 'ok', '500', 'slow', 'bad', '400'
    (or always by `mode`)."""

    def __init__(self, mode: str | None = None):
        self.calls: dict[str, int] = {}
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                mode = outer.mode or body["messages"][-1]["content"]
                outer.calls[mode] = outer.calls.get(mode, 0) + 1
                if mode == "slow":
                    time.sleep(1.0)
                if mode == "500" or mode == "slow":
                    return self._send(500, {"error": "overloaded"})
                if mode == "400":
                    return self._send(400, {"error": "bad request"})
                if mode == "bad":
                    return self._send(200, {"unexpected": True})
                reply = {"choices": [{"message": {"content": f"echo seed {body['seed']}"}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
                self._send(200, reply)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.mode = mode
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.close()


def engine(url: str, **kw):
    return make_engine(EngineConfig(kind="openai", base_url=url, max_retries=2, backoff_s=0.01, **kw))


def req(id: str, mode: str, seed: int = 0) -> GenerationRequest:
    return GenerationRequest(id=id, messages=[{"role": "user", "content": mode}], seed=seed)


def test_healthy_replies_keep_order_and_usage(fake):
    results = engine(fake.url).generate([req(str(i), "ok", seed=i) for i in range(10)])
    assert [r.text for r in results] == [f"echo seed {i}" for i in range(10)]
    assert all(r.prompt_tokens == 3 and r.completion_tokens == 4 for r in results)


def test_sampling_settings_reach_the_server_extra_fields_only_when_on(fake):
    with engine(fake.url) as eng:
        eng.generate([req("d", "ok")])
        eng.generate([GenerationRequest(id="m", messages=[{"role": "user", "content": "ok"}],
                                        sampling=SamplingConfig(temperature=1.0, min_p=0.1, top_k=20, max_tokens=9))])
    default, tuned = fake.bodies
    unknown = DEFAULTS["unknown"]  # a server's hardware is not known here
    assert (default["temperature"], default["top_p"]) == (unknown.temperature, unknown.top_p)
    assert "min_p" not in default and "top_k" not in default  # standard bodies for servers that are not vLLM
    assert {k: tuned[k] for k in ("temperature", "top_p", "top_k", "min_p", "max_tokens")} == {
        "temperature": 1.0, "top_p": 1.0, "top_k": 20, "min_p": 0.1, "max_tokens": 9}


def test_500s_are_retried_then_a_clear_error_names_the_url_and_keeps_received_results(fake):
    received = []
    requests = [req("a", "ok"), req("b", "500"), req("c", "ok")]
    with pytest.raises(EngineError) as err:
        engine(fake.url, max_concurrency=1).generate(requests, on_result=received.append)
    assert fake.url in str(err.value) and "HTTP 500" in str(err.value)
    assert fake.calls["500"] == 3  # first try + 2 retries
    assert [r.id for r in err.value.results] == ["a"]  # what arrived before the server was given up on
    assert [r.id for r in received] == ["a"]


def test_timeouts_are_retried_then_fail_clearly(fake):
    with pytest.raises(EngineError, match="did not answer after 2 retries") as err:
        engine(fake.url, timeout_s=0.2).generate([req("t", "slow")])
    assert "ReadTimeout" in str(err.value)
    assert fake.calls["slow"] == 3


def test_unreachable_server_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match=f"server at {url} did not answer.*ConnectError"):
        engine(url).generate([req("x", "ok")])


def test_client_errors_and_malformed_bodies_fail_alone_without_retries(fake):
    results = engine(fake.url).generate([req("a", "400"), req("b", "bad"), req("c", "ok")])
    assert "HTTP 400" in results[0].error and results[0].finish_reason == "error"
    assert "malformed reply" in results[1].error
    assert results[2].ok
    assert fake.calls["400"] == 1 and fake.calls["bad"] == 1


@pytest.fixture
def fakes():
    servers = [FakeServer(), FakeServer(), FakeServer(mode="500")]
    yield servers
    for server in servers:
        server.close()


def test_several_servers_share_the_requests(fakes):
    a, b, _ = fakes
    results = engine([a.url, b.url], max_concurrency=2).generate([req(str(i), "ok", seed=i) for i in range(20)])
    assert [r.text for r in results] == [f"echo seed {i}" for i in range(20)]
    assert a.calls["ok"] + b.calls["ok"] == 20 and a.calls["ok"] >= 5 and b.calls["ok"] >= 5


def test_a_failing_server_is_dropped_and_its_requests_land_on_the_others(fakes):
    healthy, _, failing = fakes
    dead = f"http://127.0.0.1:{free_port()}/v1"
    received = []
    results = engine([failing.url, dead, healthy.url], max_concurrency=2).generate(
        [req(str(i), "ok", seed=i) for i in range(12)], on_result=received.append
    )
    assert [r.text for r in results] == [f"echo seed {i}" for i in range(12)]
    assert sorted(r.id for r in received) == sorted(str(i) for i in range(12))  # each once
    assert healthy.calls["ok"] == 12
    assert failing.calls["500"] % 3 == 0 and 3 <= failing.calls["500"] <= 6  # its first requests, each retried twice


def test_when_every_server_is_gone_the_error_names_each(fakes):
    _, _, failing = fakes
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match=f"servers at {failing.url}, {dead} did not answer") as err:
        engine([failing.url, dead]).generate([req(str(i), "ok") for i in range(4)])
    assert "HTTP 500" in str(err.value) and "ConnectError" in str(err.value)
