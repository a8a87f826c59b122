"""The DriveLM judge: exact prompts, a fake client, the replay cache, clear errors. No network."""

from __future__ import annotations

import json

import pytest

from internvl_da.eval import judge as jl


def test_prompt_is_drivelm_gpt_eval_verbatim():
    # challenge/gpt_eval.py: system message, then the instruction + GT + answer, no separators
    assert jl.messages("Go.", "Stop.") == [
        {"role": "system", "content": "an evaluator who rates my answer based on the correct "
                                      "answer"},
        {"role": "user", "content": "Rate my answer based on the correct answer out of 100, "
         "with higher scores indicating that the answer is closer to the correct answer, and you "
         "should be accurate to single digits like 62, 78, 41,etc. Output the number only"
         "This is the correct answer: Stop.This is my answer: Go."}]


def test_live_call_settings_and_cache_lines(tmp_path, fake_client):
    client, calls = fake_client(["62", " 78\n"])
    settings = jl.JudgeSettings(model="m", temperature=0.3)
    judge = jl.Judge(jl.JudgeCache(tmp_path / "c" / "judge.jsonl"), client, settings)
    assert judge.score("Go.", "Stop.", "s_f_2") == 62.0
    assert judge.score("Turn.", "Stop.", "s_f_3") == 78.0
    assert calls[0] == {"model": "m", "messages": jl.messages("Go.", "Stop."), "temperature": 0.3,
                        "max_tokens": 3000}
    lines = [json.loads(x) for x in (tmp_path / "c" / "judge.jsonl").read_text().splitlines()]
    assert lines == [{"answer": "Go.", "gt": "Stop.", "score": 62.0},
                     {"answer": "Turn.", "gt": "Stop.", "score": 78.0}]
    assert judge.calls == 2 and "m, temperature 0.3, live client" in judge.describe()


def test_defaults_are_the_reference_settings():
    settings = jl.JudgeSettings()
    assert (settings.model, settings.temperature, settings.max_tokens) == ("gpt-3.5-turbo", 0.6,
                                                                           3000)


def test_repeated_pairs_replay_in_order_then_go_live(tmp_path, fake_client):
    path = tmp_path / "judge.jsonl"
    path.write_text(json.dumps({"answer": "a", "gt": "g", "score": 10}) + "\n\n"
                    + json.dumps({"answer": "a", "gt": "g", "score": 30.5}) + "\n")
    replay = jl.Judge(jl.JudgeCache(path))
    assert [replay.score("a", "g", "x") for _ in range(3)] == [10.0, 30.5, None]
    client, calls = fake_client(["55"])
    live = jl.Judge(jl.JudgeCache(path), client)
    assert [live.score("a", "g", "x") for _ in range(3)] == [10.0, 30.5, 55.0]
    assert len(calls) == 1  # the cache is read first
    again = jl.Judge(jl.JudgeCache(path))  # a later run replays all three without a client
    assert [again.score("a", "g", "x") for _ in range(3)] == [10.0, 30.5, 55.0]


@pytest.mark.parametrize("reply", ["Score: 62", "", None, "nan", "62/100"])
def test_non_numeric_reply_names_the_item(tmp_path, reply, fake_client):
    client, _ = fake_client([reply])
    judge = jl.Judge(jl.JudgeCache(tmp_path / "judge.jsonl"), client)
    with pytest.raises(jl.JudgeError, match=r"^s_f_7: judge reply .* not a"):
        judge.score("a", "g", "s_f_7")
    assert not (tmp_path / "judge.jsonl").exists()  # nothing cached for a bad reply


def test_parse_score_is_python_float():
    assert jl.parse_score("62", "x") == 62.0 and jl.parse_score(" 41.5\n", "x") == 41.5


@pytest.mark.parametrize("line,reason", [
    ("{not json", "invalid JSON"),
    (json.dumps({"answer": "a", "score": 1}), "string fields 'answer' and 'gt'"),
    (json.dumps({"answer": "a", "gt": "g", "score": "62"}), "'score' is not a number"),
    (json.dumps({"answer": "a", "gt": "g", "score": True}), "'score' is not a number"),
])
def test_bad_cache_lines_name_file_and_line(tmp_path, line, reason):
    path = tmp_path / "judge.jsonl"
    path.write_text(json.dumps({"answer": "a", "gt": "g", "score": 1}) + "\n" + line + "\n")
    with pytest.raises(jl.JudgeError, match=rf"judge\.jsonl:2: .*{reason}"):
        jl.JudgeCache(path)


def test_client_only_with_a_key(monkeypatch):
    monkeypatch.delenv("MY_JUDGE_KEY", raising=False)
    assert jl.make_client(jl.JudgeSettings(api_key_env="MY_JUDGE_KEY")) is None
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test")
    client = jl.make_client(jl.JudgeSettings(api_key_env="MY_JUDGE_KEY",
                                       base_url="http://127.0.0.1:9/v1"))
    assert client.api_key == "sk-test" and str(client.base_url).startswith("http://127.0.0.1:9")
    assert callable(client.chat.completions.create)  # constructed only; no request is sent

