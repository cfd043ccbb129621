"""Damage of any kind is refused with TamperedData or WrongKey; wrong plaintext never comes out."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.core.errors import MissingKey, TamperedData, VaultError, WrongKey
from archiver.vault import KeyFileProvider, WrappedKey, parse_header
from archiver.vault.format import TAG_SIZE, build_header

FAST = settings(max_examples=200, deadline=None)
SEG = 64
FULL = SEG + TAG_SIZE


def segments(ct: bytes, header_size: int) -> list[bytes]:
    body = ct[header_size:]
    return [body[i : i + FULL] for i in range(0, len(body), FULL)]


@FAST
@given(data=st.binary(max_size=400), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_single_bit_flip_is_detected(keyfile, seal, unseal, data, where, bit):
    ct, info = seal(data, keyfile)
    pos = int(where * len(ct))
    damaged = bytearray(ct)
    damaged[pos] ^= 1 << bit
    with pytest.raises(TamperedData):
        unseal(bytes(damaged), keyfile)
    # the catalog's copy of the wrapped key does not bypass header checks
    with pytest.raises(TamperedData):
        unseal(bytes(damaged), keyfile, wrapped_key=info.wrapped)


@FAST
@given(data=st.binary(max_size=400), where=st.floats(0, 1, exclude_max=True))
def test_truncation_at_any_point_is_detected(keyfile, seal, unseal, data, where):
    ct, _ = seal(data, keyfile)
    with pytest.raises(TamperedData):
        unseal(ct[: int(where * len(ct))], keyfile)


@FAST
@given(data=st.binary(max_size=400), extra=st.binary(min_size=1, max_size=200))
def test_appended_bytes_are_detected(keyfile, seal, unseal, data, extra):
    ct, _ = seal(data, keyfile)
    with pytest.raises(TamperedData):
        unseal(ct + extra, keyfile)


@FAST
@given(data=st.binary(min_size=SEG + 1, max_size=600), pick=st.data())
def test_reordered_segments_are_detected(keyfile, seal, unseal, data, pick):
    ct, info = seal(data, keyfile)
    segs = segments(ct, info.header_size)
    i = pick.draw(st.integers(0, len(segs) - 1))
    j = pick.draw(st.integers(0, len(segs) - 1).filter(lambda j: j != i))
    segs[i], segs[j] = segs[j], segs[i]
    with pytest.raises(TamperedData):
        unseal(ct[: info.header_size] + b"".join(segs), keyfile)


@FAST
@given(data=st.binary(min_size=SEG + 1, max_size=600), pick=st.data())
def test_dropped_or_duplicated_segments_are_detected(keyfile, seal, unseal, data, pick):
    ct, info = seal(data, keyfile)
    segs = segments(ct, info.header_size)
    i = pick.draw(st.integers(0, len(segs) - 1))
    dropped = segs[:i] + segs[i + 1 :]
    duplicated = segs[: i + 1] + segs[i:]
    for variant in (dropped, duplicated):
        with pytest.raises(TamperedData):
            unseal(ct[: info.header_size] + b"".join(variant), keyfile)


def test_segment_from_another_object_is_detected(keyfile, seal, unseal):
    a, info_a = seal(os.urandom(300), keyfile)
    b, info_b = seal(os.urandom(300), keyfile)
    segs_a, segs_b = segments(a, info_a.header_size), segments(b, info_b.header_size)
    segs_a[1] = segs_b[1]
    with pytest.raises(TamperedData):
        unseal(a[: info_a.header_size] + b"".join(segs_a), keyfile)


def rewrite_header(ct: bytes, **changes: object) -> bytes:
    """Rebuild a header with consistent lengths and digest: a deliberate, careful forger."""
    h = parse_header(ct)
    fields = {
        "key_id": h.key_id,
        "wrapped_key": h.wrapped_key,
        "segment_size": h.segment_size,
        "nonce_prefix": h.nonce_prefix,
        "key_check": h.key_check,
    }
    fields.update(changes)
    return build_header(**fields).raw + ct[h.size :]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"segment_size": 32},
        {"segment_size": 128},
        {"nonce_prefix": b"\x00" * 7},
        {"key_check": b"\x00" * 32},
        {"wrapped_key": b""},
    ],
    ids=["segment_size_smaller", "segment_size_larger", "nonce_prefix", "key_check", "no_key"],
)
def test_consistently_rewritten_header_fields_are_refused(keyfile, seal, unseal, changes):
    ct, info = seal(os.urandom(500), keyfile)
    forged = rewrite_header(ct, **changes)
    with pytest.raises((TamperedData, WrongKey, MissingKey)) as caught:
        unseal(forged, keyfile)
    if "wrapped_key" not in changes:  # only an absent key can be "missing"
        assert not isinstance(caught.value, MissingKey)
    # even with the genuine data key supplied, a rewritten header fails
    with pytest.raises((TamperedData, WrongKey)):
        unseal(forged, keyfile, wrapped_key=info.wrapped)


def test_header_with_another_objects_wrapped_key_is_wrong_key(keyfile, seal, unseal):
    ct, _ = seal(os.urandom(200), keyfile)
    _, other = seal(b"other", keyfile)
    with pytest.raises(WrongKey, match="not this object's key"):
        unseal(rewrite_header(ct, wrapped_key=other.wrapped_key), keyfile)


def test_catalog_key_from_another_object_is_wrong_key(keyfile, seal, unseal):
    ct, _ = seal(os.urandom(200), keyfile)
    _, other = seal(b"other", keyfile)  # same context, so the wrap itself opens
    with pytest.raises(WrongKey, match="not this object's key"):
        unseal(ct, keyfile, wrapped_key=other.wrapped)


def test_wrong_context_is_wrong_key(keyfile, seal, unseal, context):
    ct, _ = seal(os.urandom(200), keyfile)
    with pytest.raises(WrongKey, match="context"):
        unseal(ct, keyfile, context={**context, "account": "district-0099/facebook/1"})
    with pytest.raises(WrongKey):
        unseal(ct, keyfile, context={})


def test_same_key_id_with_different_key_material_is_wrong_key(
    tmp_path: Path, keyfile, seal, unseal
):
    ct, info = seal(os.urandom(200), keyfile)
    impostor = tmp_path / "keys.json"
    doc = {
        "format": "archiver-vault-keyfile",
        "version": 1,
        "current": info.key_id,
        "keys": {info.key_id: {"created": "", "key": base64.b64encode(os.urandom(32)).decode()}},
    }
    impostor.write_text(json.dumps(doc))
    impostor.chmod(0o600)
    with pytest.raises(WrongKey):
        unseal(ct, KeyFileProvider(impostor))


def test_key_unknown_to_provider_is_missing_key(tmp_path: Path, keyfile, seal, unseal):
    ct, info = seal(os.urandom(200), keyfile)
    other_install = KeyFileProvider(tmp_path / "keys.json")
    with pytest.raises(MissingKey, match="restore the key file"):
        unseal(ct, other_install)


def test_garbage_and_plaintext_input_are_refused(keyfile, unseal):
    for blob in (b"", b"WARC/1.1\r\n" * 20, os.urandom(300)):
        with pytest.raises(TamperedData):
            unseal(blob, keyfile)


def test_error_messages_are_one_line_and_free_of_key_material(
    tmp_path: Path, seal, unseal, context
):
    provider = KeyFileProvider(tmp_path / "keys.json")
    keyfile_text = (tmp_path / "keys.json").read_text()
    secrets_b64 = [e["key"] for e in json.loads(keyfile_text)["keys"].values()]
    ct, info = seal(os.urandom(300), provider)
    errors: list[VaultError] = []
    for attempt in (
        lambda: unseal(ct[:-5], provider),
        lambda: unseal(ct[:40], provider),
        lambda: unseal(ct, provider, context={"x": "y"}),
        lambda: unseal(ct, KeyFileProvider(tmp_path / "other.json")),
        lambda: unseal(rewrite_header(ct, key_check=b"\x01" * 32), provider),
        lambda: unseal(ct, provider, wrapped_key=WrappedKey(b"\x01" * 61, info.key_id)),
    ):
        with pytest.raises(VaultError) as caught:
            attempt()
        errors.append(caught.value)
    kek_raw = [base64.b64decode(s) for s in secrets_b64]
    for err in errors:
        text = f"{err} {err.detail} {err!r}"
        assert err.message and "\n" not in err.message
        for s in secrets_b64:
            assert s not in text
        for raw in kek_raw:
            assert raw.hex() not in text
