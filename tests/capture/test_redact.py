"""Credentials never survive redaction, wherever they hide (property tests)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.capture.redact import REDACTED, Redactor

token_chars = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=",
                      min_size=8, max_size=60)
filler = st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(token=token_chars, before=filler, after=filler)
def test_exact_token_value_is_removed_from_any_text(token: str, before: str, after: str) -> None:
    red = Redactor([token])
    body = (before + token + after + quote(token, safe="")).encode("utf-8")
    out, notes = red.body(body)
    assert token.encode() not in out
    assert quote(token, safe="").encode() not in out
    assert notes


@settings(max_examples=200, deadline=None)
@given(value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=40),
       name=st.sampled_from(["access_token", "client_secret", "fb_exchange_token", "refresh_token"]))
def test_secret_parameters_in_embedded_urls_are_replaced(value: str, name: str) -> None:
    body = ('{"paging":{"next":"https://graph.example/v21.0/1/feed?' + name + "=" + value +
            '&after=QVF"}}').encode()
    out, notes = Redactor().body(body)
    assert f"{name}={REDACTED}".encode() in out
    assert f"{name}={value}&".encode() not in out
    assert notes == [f"{name} query values"]


def test_ordinary_text_that_looks_like_a_parameter_is_untouched() -> None:
    body = b'{"message":"monkey=banana and key=value in a sentence"}'
    out, notes = Redactor().body(body)
    assert out == body and notes == []


def test_url_and_headers() -> None:
    red = Redactor(["s3cr3t-token"])
    assert red.url("https://x/y?access_token=s3cr3t-token&fields=a,b") == "https://x/y?access_token=REDACTED&fields=a,b"
    headers = red.headers([("Authorization", "Bearer s3cr3t-token"), ("X-Other", "s3cr3t-token"), ("Accept", "*/*")])
    assert headers == [("Authorization", REDACTED), ("X-Other", REDACTED), ("Accept", "*/*")]


def test_binary_bodies_only_lose_exact_secrets() -> None:
    red = Redactor(["s3cr3t-token"])
    data = b"\xff\xd8\xff" + b"s3cr3t-token" + b"\x00\x01"
    out, notes = red.body(data)
    assert b"s3cr3t-token" not in out and notes == ["session token value"]
