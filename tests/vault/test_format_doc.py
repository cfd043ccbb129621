"""docs/vault-format.md is enough to decrypt: an independent decoder written from it alone.

The decoder below deliberately imports nothing from archiver.vault; it follows the document's
tables. The library must agree with it on the document's test vector and on fresh objects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from archiver.vault import KeyFileProvider, ciphertext_size

DOC = Path(__file__).resolve().parents[2] / "docs" / "vault-format.md"


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(ikm)


def reference_decrypt(obj: bytes, kek: bytes, context: dict[str, str]) -> bytes:
    assert obj[:8] == bytes.fromhex("89415243564C540A") and obj[8] == 1
    (header_len,) = struct.unpack(">I", obj[9:13])
    header = obj[:header_len]
    assert hashlib.sha256(header[:-32]).digest() == header[-32:]
    (seg,) = struct.unpack(">I", header[13:17])
    prefix, key_check = header[17:24], header[24:56]
    (k,) = struct.unpack(">H", header[56:58])
    (w,) = struct.unpack(">H", header[58 + k : 60 + k])
    wrapped = header[60 + k : 60 + k + w]
    assert header_len == 92 + k + w
    aad = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert wrapped[0] == 1 and len(wrapped) == 61
    dek = AESGCM(kek).decrypt(wrapped[1:13], wrapped[13:], aad)
    assert _hkdf(dek, b"archiver-vault v1 key check") == key_check
    aead = AESGCM(_hkdf(dek, b"archiver-vault v1 payload key"))
    body = obj[header_len:]
    n = max(1, -(-len(body) // (seg + 16)))
    out = []
    for i in range(n):
        nonce = prefix + struct.pack(">I", i) + (b"\x01" if i == n - 1 else b"\x00")
        out.append(aead.decrypt(nonce, body[i * (seg + 16) : (i + 1) * (seg + 16)], header[-32:]))
    return b"".join(out)


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _vector() -> tuple[bytes, bytes, dict[str, str], bytes]:
    text = _doc()
    obj = bytes.fromhex("".join(re.search(r"```hex\n(.*?)```", text, re.S).group(1).split()))
    kek = bytes.fromhex(re.search(r"\| KEK [^|]*\| `([0-9a-f]{64})`", text).group(1))
    ctx = json.loads(re.search(r"\| context \| `(\{.*?\})` \|", text).group(1))
    plaintext = re.search(r'\| plaintext \| `"(.*?)"`', text).group(1).encode()
    return obj, kek, ctx, plaintext


def test_reference_decoder_reads_the_document_vector():
    obj, kek, ctx, plaintext = _vector()
    assert len(obj) == 228
    assert reference_decrypt(obj, kek, ctx) == plaintext


def test_library_reads_the_document_vector(tmp_path: Path, unseal):
    obj, kek, ctx, plaintext = _vector()
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(
        json.dumps(
            {
                "format": "archiver-vault-keyfile",
                "version": 1,
                "current": "kf-20261122-1a2b3c4d",
                "keys": {
                    "kf-20261122-1a2b3c4d": {"created": "", "key": base64.b64encode(kek).decode()}
                },
            }
        )
    )
    keyfile.chmod(0o600)
    assert unseal(obj, KeyFileProvider(keyfile), context=ctx) == plaintext


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1000])
def test_reference_decoder_reads_library_output(tmp_path: Path, seal, context, size):
    provider = KeyFileProvider(tmp_path / "keys.json")
    kek = base64.b64decode(
        json.loads((tmp_path / "keys.json").read_text())["keys"][provider.key_id]["key"]
    )
    data = os.urandom(size)
    ct, _ = seal(data, provider, context=context)
    assert reference_decrypt(ct, kek, context) == data


def test_worked_example_numbers():
    text = _doc()
    assert ciphertext_size(150_000, 65_536, 173) == 150_221
    assert 92 + len("kf-20261122-1a2b3c4d") + 61 == 173
    for figure in ("150,221", "65,725", "131,277", "84,496", "131,105", "34464"):
        assert figure in text
