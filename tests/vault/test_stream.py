"""Whole-object encryption and decryption: round trips, sizes, digests, atomic files."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.core.errors import TamperedData, WrongKey
from archiver.vault import (
    KeyFileProvider,
    ciphertext_size,
    decrypt_stream,
    decrypt_to_file,
    encrypt_file,
    encrypt_stream,
    parse_header,
    plaintext_size,
)
from archiver.vault.format import MAGIC, TAG_SIZE

FAST = settings(max_examples=150, deadline=None)


@FAST
@given(data=st.binary(max_size=3000), segment_size=st.sampled_from([16, 64, 100, 1024]))
def test_any_plaintext_round_trips(keyfile, seal, unseal, data, segment_size):
    ct, info = seal(data, keyfile, segment_size=segment_size)
    assert unseal(ct, keyfile) == data
    assert info.plaintext_size == len(data)
    assert info.ciphertext_size == len(ct)
    assert info.plaintext_sha256 == hashlib.sha256(data).hexdigest()
    assert info.ciphertext_sha256 == hashlib.sha256(ct).hexdigest()
    assert ciphertext_size(len(data), segment_size, info.header_size) == len(ct)
    assert plaintext_size(len(ct), segment_size, info.header_size) == len(data)


def test_empty_plaintext_is_one_empty_final_segment(keyfile, seal, unseal):
    ct, info = seal(b"", keyfile)
    assert len(ct) == info.header_size + TAG_SIZE
    assert info.plaintext_size == 0
    assert unseal(ct, keyfile) == b""


@pytest.mark.parametrize("segments", [1, 2, 5])
def test_exact_multiple_of_segment_size_has_no_extra_segment(keyfile, seal, unseal, segments):
    data = os.urandom(64 * segments)
    ct, info = seal(data, keyfile, segment_size=64)
    assert len(ct) == info.header_size + segments * (64 + TAG_SIZE)
    assert unseal(ct, keyfile) == data


def test_same_plaintext_encrypts_differently_each_time(keyfile, seal):
    a, info_a = seal(b"x" * 500, keyfile)
    b, info_b = seal(b"x" * 500, keyfile)
    assert a != b and info_a.wrapped_key != info_b.wrapped_key
    assert parse_header(a).nonce_prefix != parse_header(b).nonce_prefix


class TrickleReader(io.RawIOBase):
    """A source that hands out at most 7 bytes per call, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        chunk = self._src.read(min(7, len(buf)))
        buf[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_from_the_source_do_not_change_the_output(keyfile, unseal, context):
    data = os.urandom(1000)
    out = io.BytesIO()
    info = encrypt_stream(TrickleReader(data), out, keyfile, context=context, segment_size=64)
    assert info.plaintext_size == 1000
    assert unseal(out.getvalue(), keyfile) == data


def test_header_parses_without_a_key(keyfile, seal):
    ct, info = seal(b"hello", keyfile, segment_size=128)
    header = parse_header(ct)
    assert ct.startswith(MAGIC)
    assert header.key_id == info.key_id == keyfile.key_id
    assert header.wrapped_key == info.wrapped_key
    assert header.segment_size == 128
    assert header.size == info.header_size


def test_files_round_trip_with_default_segment_size(tmp_path: Path, keyfile, context):
    src = tmp_path / "capture.warc.gz"
    data = os.urandom(2 * 1024 * 1024 + 12345)  # three 1 MiB segments
    src.write_bytes(data)
    enc = tmp_path / "capture.warc.gz.vault"
    info = encrypt_file(src, enc, keyfile, context=context)
    assert info.segment_size == 1 << 20
    assert enc.stat().st_size == info.ciphertext_size == len(data) + info.header_size + 3 * 16
    assert hashlib.sha256(enc.read_bytes()).hexdigest() == info.ciphertext_sha256

    out = tmp_path / "restored.warc.gz"
    result = decrypt_to_file(enc, out, keyfile, context=context)
    assert out.read_bytes() == data
    assert result.plaintext_sha256 == info.plaintext_sha256
    assert result.key_id == info.key_id
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # restored records may hold PII
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "capture.warc.gz",
        "capture.warc.gz.vault",
        "restored.warc.gz",
    ]


def test_decrypt_to_file_accepts_an_open_stream(tmp_path: Path, keyfile, seal, context):
    ct, _ = seal(b"record" * 100, keyfile)
    out = tmp_path / "out"
    decrypt_to_file(io.BytesIO(ct), out, keyfile, context=context)
    assert out.read_bytes() == b"record" * 100


@pytest.mark.parametrize("damage", ["flip_last_segment", "truncate", "wrong_context"])
@pytest.mark.parametrize("dst_exists", [False, True])
def test_decrypt_to_file_leaves_nothing_at_dst_on_failure(
    tmp_path: Path, keyfile, seal, context, damage, dst_exists
):
    ct, _ = seal(os.urandom(1000), keyfile)
    ctx = dict(context)
    if damage == "flip_last_segment":
        ct = ct[:-1] + bytes([ct[-1] ^ 1])
    elif damage == "truncate":
        ct = ct[: len(ct) - 80]  # drop the final segment: earlier ones still authenticate
    else:
        ctx["object"] = "warc/other.warc.gz"
    dst = tmp_path / "restored.warc"
    if dst_exists:
        dst.write_bytes(b"previous contents")
    src = tmp_path / "obj.vault"
    src.write_bytes(ct)
    with pytest.raises((TamperedData, WrongKey)):
        decrypt_to_file(src, dst, keyfile, context=ctx)
    if dst_exists:
        assert dst.read_bytes() == b"previous contents"
    else:
        assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["obj.vault"] + (["restored.warc"] if dst_exists else [])
    )


def test_stream_yields_authenticated_prefix_then_raises_on_truncation(keyfile, seal, context):
    """Why decrypt_to_file exists: chunks before the damage are authentic, the whole is not."""
    data = os.urandom(64 * 4)
    ct, info = seal(data, keyfile)
    truncated = ct[: info.header_size + 2 * (64 + TAG_SIZE)]
    chunks = decrypt_stream(io.BytesIO(truncated), keyfile, context=context)
    assert next(chunks) == data[:64]
    with pytest.raises(TamperedData, match="truncated"):
        list(chunks)


def test_encrypt_file_failure_leaves_nothing_at_dst(tmp_path: Path, context):
    provider = KeyFileProvider(tmp_path / "keys.json")
    dst = tmp_path / "out.vault"
    with pytest.raises(FileNotFoundError):
        encrypt_file(tmp_path / "missing", dst, provider, context=context)
    assert not dst.exists()
    with pytest.raises(TypeError):
        encrypt_file(tmp_path / "keys.json", dst, provider, context={"n": 1})  # type: ignore[dict-item]
    assert not dst.exists()
    assert {p.name for p in tmp_path.iterdir()} == {"keys.json", "keys.json.lock"}


@pytest.mark.parametrize("segment_size", [0, 15, (64 << 20) + 1])
def test_segment_size_out_of_range_is_refused(keyfile, seal, segment_size):
    with pytest.raises(ValueError, match="segment size"):
        seal(b"x", keyfile, segment_size=segment_size)
