"""The local key file: created 0600, refused when exposed, rotatable without losing keys."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from archiver.core.errors import MissingKey, VaultError, WrongKey
from archiver.vault import DataKey, KeyFileProvider, KeyProvider, canonical_context


def test_created_on_first_use_with_mode_0600(tmp_path: Path):
    path = tmp_path / "home" / "vault" / "keys.json"
    provider = KeyFileProvider(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((path.parent / "keys.json.lock").stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["format"] == "archiver-vault-keyfile" and doc["version"] == 1
    assert doc["current"] == provider.key_id
    assert list(doc["keys"]) == [provider.key_id]
    assert provider.key_id.startswith("kf-")
    assert isinstance(provider, KeyProvider)
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_second_instance_loads_rather_than_recreates(tmp_path: Path):
    a = KeyFileProvider(tmp_path / "keys.json")
    b = KeyFileProvider(tmp_path / "keys.json")
    assert a.key_id == b.key_id
    dk = a.generate_data_key({"o": "1"})
    assert b.unwrap(dk.wrapped, dk.key_id, {"o": "1"}) == dk.plaintext


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_exposed_key_file_is_refused(tmp_path: Path, mode: int):
    path = tmp_path / "keys.json"
    KeyFileProvider(path)
    path.chmod(mode)
    with pytest.raises(VaultError, match="chmod 600") as caught:
        KeyFileProvider(path)
    assert f"{mode:04o}" in str(caught.value)


def test_symlinked_key_file_is_refused(tmp_path: Path):
    real = tmp_path / "real.json"
    KeyFileProvider(real)
    (tmp_path / "link.json").symlink_to(real)
    with pytest.raises(VaultError, match="symlinks"):
        KeyFileProvider(tmp_path / "link.json")


def test_missing_key_file_without_create_is_missing_key(tmp_path: Path):
    with pytest.raises(MissingKey, match="restore it from backup"):
        KeyFileProvider(tmp_path / "nope.json", create=False)
    assert not (tmp_path / "nope.json").exists()


def test_malformed_key_file_is_refused_without_echoing_it(tmp_path: Path):
    path = tmp_path / "keys.json"
    KeyFileProvider(path)
    doc = json.loads(path.read_text())
    kid = doc["current"]
    doc["keys"][kid]["key"] = doc["keys"][kid]["key"][:-4]  # 29-byte key
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultError, match="malformed") as caught:
        KeyFileProvider(path)
    assert doc["keys"][kid]["key"] not in f"{caught.value} {caught.value.detail}"


def test_wrap_is_bound_to_the_context(tmp_path: Path):
    provider = KeyFileProvider(tmp_path / "keys.json")
    ctx = {"account": "a", "object": "o1"}
    dk = provider.generate_data_key(ctx)
    assert len(dk.plaintext) == 32 and len(dk.wrapped) == 61
    # key order does not matter; values do
    assert provider.unwrap(dk.wrapped, dk.key_id, {"object": "o1", "account": "a"}) == dk.plaintext
    with pytest.raises(WrongKey):
        provider.unwrap(dk.wrapped, dk.key_id, {"account": "a", "object": "o2"})
    with pytest.raises(WrongKey):
        provider.unwrap(dk.wrapped, dk.key_id, {**ctx, "extra": ""})


def test_canonical_context_is_sorted_compact_utf8():
    assert (
        canonical_context({"object": "ü", "account": "a"})
        == '{"account":"a","object":"ü"}'.encode()
    )
    with pytest.raises(TypeError):
        canonical_context({"n": 1})  # type: ignore[dict-item]


def test_data_key_repr_hides_key_material(tmp_path: Path):
    provider = KeyFileProvider(tmp_path / "keys.json")
    dk = provider.generate_data_key({})
    assert isinstance(dk, DataKey)
    text = repr(dk) + repr(provider)
    assert dk.plaintext.hex() not in text and repr(dk.plaintext) not in text
    plaintext, wrapped, key_id = dk  # still unpacks like the tuple it is
    assert key_id == provider.key_id


def test_add_key_rotates_and_keeps_old_keys(tmp_path: Path):
    path = tmp_path / "keys.json"
    provider = KeyFileProvider(path)
    old_id = provider.key_id
    old = provider.generate_data_key({"o": "1"})
    new_id = provider.add_key()
    assert provider.key_id == new_id != old_id
    assert set(provider.key_ids) == {old_id, new_id}
    assert provider.generate_data_key({"o": "2"}).key_id == new_id
    assert provider.unwrap(old.wrapped, old_id, {"o": "1"}) == old.plaintext
    assert json.loads(path.read_text())["current"] == new_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_stale_instance_picks_up_a_rotation_from_another_process(tmp_path: Path):
    a = KeyFileProvider(tmp_path / "keys.json")
    b = KeyFileProvider(tmp_path / "keys.json")
    b.add_key()
    dk = b.generate_data_key({"o": "1"})
    assert a.unwrap(dk.wrapped, dk.key_id, {"o": "1"}) == dk.plaintext


def test_concurrent_rotations_do_not_drop_keys(tmp_path: Path):
    a = KeyFileProvider(tmp_path / "keys.json")
    b = KeyFileProvider(tmp_path / "keys.json")
    first = a.key_id
    ka = a.add_key()
    kb = b.add_key()  # b's view is stale; it must re-read under the lock before writing
    fresh = KeyFileProvider(tmp_path / "keys.json")
    assert set(fresh.key_ids) == {first, ka, kb}
    assert fresh.key_id == kb


def test_remove_key(tmp_path: Path):
    provider = KeyFileProvider(tmp_path / "keys.json")
    old_id = provider.key_id
    dk = provider.generate_data_key({"o": "1"})
    with pytest.raises(VaultError, match="current key"):
        provider.remove_key(old_id)
    provider.add_key()
    provider.remove_key(old_id)
    with pytest.raises(MissingKey, match="deliberately destroyed"):
        provider.unwrap(dk.wrapped, old_id, {"o": "1"})
    with pytest.raises(MissingKey):
        provider.remove_key(old_id)
    assert old_id not in KeyFileProvider(tmp_path / "keys.json").key_ids


def test_key_file_is_valid_json_documented_shape(tmp_path: Path):
    path = tmp_path / "keys.json"
    KeyFileProvider(path).add_key()
    doc = json.loads(path.read_text())
    assert set(doc) == {"format", "version", "current", "keys"}
    for entry in doc["keys"].values():
        assert set(entry) == {"created", "key"}
        assert entry["created"].endswith("Z")
    assert os.stat(path).st_nlink == 1  # the create-by-link temp name is gone
