"""The district's export signing key: wrapped under the KEK, survives rotation, verifies offline."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from archiver.app import App
from archiver.cli.main import cli
from archiver.core.errors import ConfigError
from archiver.core.settings import Settings
from archiver.services.archive_home import create_archive
from archiver.services.keys import init_export_key, rotate_keys
from archiver.vault.keys import KeyFileProvider
from archiver.vault.signing import (
    init_signing_key,
    load_signer,
    load_signer_from,
    signing_key_path,
    verify_signature,
)


def test_init_sign_verify_and_no_plain_private_key_on_disk(tmp_path: Path) -> None:
    keys = KeyFileProvider(tmp_path / "kek.json")
    path = tmp_path / "keys" / "export-signing.json"
    info = init_signing_key(keys, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signer = load_signer_from(keys, path)
    assert signer.key_id == info.key_id and info.key_id.startswith("ed25519:")
    assert "redacted" in repr(signer)
    signature = signer.sign(b"manifest bytes")
    assert verify_signature(signer.public_key_pem, b"manifest bytes", signature)
    assert not verify_signature(signer.public_key_pem, b"manifest byteS", signature)
    assert not verify_signature(b"not a key", b"manifest bytes", signature)
    raw = signer._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    on_disk = path.read_bytes()
    assert raw not in on_disk and base64.b64encode(raw) not in on_disk
    with pytest.raises(ConfigError, match="already exists"):
        init_signing_key(keys, path)


def test_another_install_cannot_use_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "export-signing.json"
    init_signing_key(KeyFileProvider(tmp_path / "kek.json"), path)
    with pytest.raises(Exception, match="does not unwrap|not in key file"):
        load_signer_from(KeyFileProvider(tmp_path / "other-kek.json"), path)


def test_a_damaged_key_file_is_one_clear_line(tmp_path: Path) -> None:
    keys = KeyFileProvider(tmp_path / "kek.json")
    path = tmp_path / "export-signing.json"
    init_signing_key(keys, path)
    doc = json.loads(path.read_text())
    doc["key_id"] = "ed25519:" + "0" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="does not match its key id"):
        load_signer_from(keys, path)
    with pytest.raises(ConfigError, match="archiver keys init-export"):
        load_signer_from(keys, tmp_path / "absent.json")


def test_the_signing_key_survives_rotation_with_old_keys_removed(tmp_path: Path) -> None:
    app = App(Settings(home=tmp_path / "home"))
    create_archive(app)  # its key file: never made implicitly
    created = init_export_key(app, actor="officer")
    report = rotate_keys(app, remove_old=True)
    assert report.signing_key_rewrapped and report.removed_key_ids
    doc = json.loads(signing_key_path(app.settings).read_text())
    assert doc["wrapped_by"] == report.new_key_id
    signer = load_signer(app.settings, app.keys)
    assert signer.key_id == created.key_id
    assert verify_signature(signer.public_key_pem, b"x", signer.sign(b"x"))
    app.close()


def test_cli_init_export_records_an_audit_entry(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0  # read commands need an archive
    first = runner.invoke(cli, ["keys", "init-export", "--json"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    key_id = json.loads(first.output)["key_id"]
    again = runner.invoke(cli, ["keys", "init-export"], env=env, catch_exceptions=False)
    assert again.exit_code != 0 and "already exists" in again.output
    listed = runner.invoke(cli, ["audit", "list", "--json"], env=env, catch_exceptions=False)
    entries = json.loads(listed.output)
    assert entries[0]["action"] == "keys.init-export" and entries[0]["subject"] == key_id
