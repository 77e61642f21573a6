"""The emulator's content-security check: a submission with a sensitive word in its inputs
is refused as the business gateway refuses content (HTTP 200, ``B_API_AuditFailed``),
and the client raises ``ContentModerationError``."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from speedpix import ContentModerationError
from speedpix.testing import Emulator
from speedpix.testing._moderation import AUDIT_FAILED, is_refused, sensitive_words

from .conftest import emulator_command, post, refused_emulator_command, submit

SUBMIT = "/scc/comfy_prompt"


def body(prompt: str, **inputs: object) -> dict[str, object]:
    return {"workflow_id": "demo-txt2img", "alias_id": "main", "inputs": {"prompt": prompt, **inputs}}


def test_a_sensitive_word_gets_the_business_gateways_refusal(http: httpx.Client) -> None:
    with Emulator(sensitive_words=["Forbidden"]) as emu:
        response = post(http, emu, SUBMIT, body("a FORBIDDEN cat"))
        assert response.status_code == 200  # the business gateway answers in the envelope
        assert response.headers["x-ca-request-id"]
        envelope = response.json()
        assert envelope["status"] == 20 and envelope["status"] != 10
        assert envelope["errCode"] == AUDIT_FAILED == "B_API_AuditFailed"
        assert envelope["errMessage"] and "forbidden" not in envelope["errMessage"].lower()  # the word stays secret
        assert envelope["data"] is None and envelope["apiInvokeId"].startswith("i_")
        assert envelope["subErrCode"] is None and envelope["subErrMessage"] is None
        assert emu.stats.moderated == 1 and emu.stats.tasks_created == 0 and emu.tasks == []
        # A clean prompt goes through; other endpoints are not checked.
        task_id = submit(http, emu, "demo-txt2img", {"prompt": "a cat"})
        assert post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id}).json()["status"] == 10
        assert (emu.stats.moderated, emu.stats.tasks_created) == (1, 1)


@pytest.mark.parametrize(
    "inputs",
    [
        {"prompt": "fine", "negative": "forbidden"},  # any text value, not just the prompt
        {"nodes": [{"text": ["ok", "so ForBidden here"]}]},  # at any depth
        {"prompt": "unforbiddenly"},  # inside a word: a substring matches
    ],
)
def test_any_text_value_at_any_depth_in_any_case(http: httpx.Client, inputs: dict[str, object]) -> None:
    with Emulator(sensitive_words=["forbidden"]) as emu:
        envelope = post(http, emu, SUBMIT, {"workflow_id": "demo-echo", "inputs": inputs}).json()
        assert envelope["errCode"] == "B_API_AuditFailed", envelope


def test_keys_files_and_other_values_are_not_read_as_text() -> None:
    words = sensitive_words(["cat"])
    assert not is_refused({"cat": "dog"}, words)  # keys are not read
    assert not is_refused({"image": "https://example.com/cat.png?Signature=CAT"}, words)  # a file's URL
    assert not is_refused({"image": "data:image/png;base64," + base64.b64encode(b"cat" * 9).decode()}, words)
    assert not is_refused({"n": 3, "b": True, "x": None, "f": 1.5}, words)
    assert not is_refused({"prompt": "a cat"}, ())  # no words: nothing refused
    assert is_refused({"prompt": "CATS"}, words)
    assert is_refused(["x", {"y": "concatenate"}], words)
    assert sensitive_words(["A", "a", "Straße"]) == ("a", "strasse")  # case-folded, once each
    with pytest.raises(TypeError, match="list of strings"):
        sensitive_words("cat")  # one string is not a list of one-letter words
    for bad in ([""], ["  "], [3]):
        with pytest.raises(ValueError, match="non-empty string"):
            sensitive_words(bad)  # type: ignore[arg-type]


def test_the_check_runs_after_the_gateways_signature_check(http: httpx.Client) -> None:
    # An unsigned or badly signed submission is refused by the API gateway first.
    with Emulator(sensitive_words=["forbidden"]) as emu:
        response = post(http, emu, SUBMIT, body("forbidden"), secret="wrong-secret")
        assert response.status_code == 400 and response.content == b""
        assert emu.stats.moderated == 0


def test_sync_and_async_run_raise_content_moderation_error() -> None:
    with Emulator(sensitive_words=["forbidden"]) as emu:
        with emu.client(max_retries=3) as client, pytest.raises(ContentModerationError) as caught:
            client.run("demo-txt2img", {"prompt": "something Forbidden"})
        error = caught.value
        assert (error.status_code, error.err_code) == (200, "B_API_AuditFailed")
        assert error.err_message and error.request_id and error.api_invoke_id
        assert (error.phase, error.task_may_exist) == ("submitting", False)  # nothing was created
        assert "content-security check refused the input" in str(error)

        async def async_run() -> None:
            async with emu.client(max_retries=3) as client:
                await client.async_run("demo-txt2img", {"prompt": "forbidden fruit"})

        with pytest.raises(ContentModerationError) as async_caught:
            asyncio.run(async_run())
        assert async_caught.value.err_code == "B_API_AuditFailed"
        # Never retried: one submission each, both refused, no task.
        assert emu.stats.requests_by_path[SUBMIT] == 2
        assert (emu.stats.moderated, emu.stats.tasks_created) == (2, 0)


def test_set_sensitive_words_at_runtime_and_reset_keeps_them() -> None:
    with Emulator() as emu:
        emu.register("echo", lambda ctx, inputs: dict(inputs))
        client = emu.client(max_retries=0)
        assert emu.sensitive_words == []
        assert client.run("echo", {"text": "Secret plan"})["text"] == "Secret plan"
        emu.set_sensitive_words(["SECRET", "plan b"])
        assert emu.sensitive_words == ["secret", "plan b"]
        with pytest.raises(ContentModerationError):
            client.run("echo", {"text": "Secret plan"})
        with pytest.raises(ContentModerationError):
            client.run("echo", {"text": "this is PLAN B"})
        emu.reset()  # counters forgotten, the words kept (like the quota)
        assert emu.stats.moderated == 0
        with pytest.raises(ContentModerationError):
            client.run("echo", {"text": "secret"})
        emu.set_sensitive_words([])
        assert client.run("echo", {"text": "secret"})["text"] == "secret"
        assert emu.stats.moderated == 1
        with pytest.raises(TypeError):
            emu.set_sensitive_words("secret")
        client.close()
    with pytest.raises(ValueError):
        Emulator(sensitive_words=[""])


def test_the_moderation_fault_refuses_the_next_submissions(http: httpx.Client) -> None:
    with Emulator() as emu, emu.client(max_retries=3) as client:
        fault = emu.inject(SUBMIT, "moderation", count=2)
        assert fault.params["message"]
        for _ in range(2):
            with pytest.raises(ContentModerationError) as caught:
                client.run("demo-txt2img", {"prompt": "a cat"})
            assert caught.value.err_code == "B_API_AuditFailed"
        assert client.run("demo-txt2img", {"prompt": "a cat"})["images"]["url"]  # the third goes through
        emu.inject(SUBMIT, "moderation", message="图片含有违规内容")
        envelope = post(http, emu, SUBMIT, body("anything")).json()
        assert (envelope["status"], envelope["errCode"], envelope["errMessage"]) == (
            20,
            "B_API_AuditFailed",
            "图片含有违规内容",
        )
        # Faults are not counted as the check's refusals (as with throttling).
        assert (emu.stats.moderated, emu.stats.tasks_created) == (0, 1)
        with pytest.raises(TypeError, match="no parameter"):
            emu.inject(SUBMIT, "moderation", detail="x")


def test_the_emulator_command_takes_sensitive_words() -> None:
    from speedpix import Client

    options = ("--sensitive-word", "Forbidden", "--sensitive-word", "nope")
    with emulator_command(*options, lines=6) as (endpoint, printed):
        assert "Content check: submissions containing 'forbidden', 'nope' get B_API_AuditFailed" in printed
        with Client("test-app-key", "test-app-secret", endpoint=endpoint, max_retries=0) as client:
            with pytest.raises(ContentModerationError):
                client.run("demo-txt2img", {"prompt": "forbidden"})
            assert client.run("demo-txt2img", {"prompt": "fine"})["images"]["url"]
    bad = refused_emulator_command("--sensitive-word", "")
    assert bad.returncode == 2 and "non-empty string" in bad.stderr
