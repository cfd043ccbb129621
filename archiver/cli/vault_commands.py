"""`archiver verify` (fixity) and `archiver keys rotate`: the vault's maintenance commands."""

from __future__ import annotations

import sys

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from archiver.cli.common import console, err_console, error_line, get_app, handle_errors, print_json
from archiver.cli.safe_text import plain


@click.command("verify")
@click.option("--sample", "sample_pct", type=float, default=None, metavar="PCT",
              help="Check this percentage of stored objects, chosen at random (at least one).")
@click.option("--all", "all_", is_flag=True, help="Check every stored object.")
@click.option("--deep", is_flag=True,
              help="Recompute every WARC record digest, even of objects whose plaintext passed that check before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def verify(ctx: click.Context, sample_pct: float | None, all_: bool, deep: bool, as_json: bool) -> None:
    """Re-read stored WARCs and prove they are intact (fixity).

    Each object's stored bytes are hashed and compared with the catalog, decrypted (every
    segment's authentication tag checked) and its plaintext hashed and compared with the
    catalog. Every WARC record's digest is recomputed too (a "deep" check) when the object was
    never deep-checked, when its plaintext digest changed since, or with --deep; otherwise the
    check is "routine": the record digests already passed on plaintext with this very sha256.
    Without --sample or --all, 5% of the objects (at least one) are checked. Results, with
    each object's level, are recorded in the catalog. Exits 1 on any finding.

    \b
    Example:
      archiver verify --sample 10
      archiver verify --all --json
      archiver verify --all --deep
    """
    from archiver.services.maintenance import check_verify_options
    from archiver.services.maintenance import verify as run_verify

    check_verify_options(sample_pct, all_)  # refuse bad options before any progress output
    app = get_app(ctx)
    with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("verify", total=None)
        report = run_verify(
            app, sample_pct=sample_pct, all_=all_, deep=deep,
            on_plan=lambda n: bar.update(task, total=n),
            on_object=lambda _result: bar.advance(task),
        )
    if as_json:
        print_json(report.as_dict())
    elif report.findings:
        table = Table(title=f"{len(report.findings)} fixity findings")
        table.add_column("WARC", overflow="fold")
        table.add_column("verdict")
        table.add_column("level")
        table.add_column("explanation", overflow="fold")
        for f in report.findings:
            table.add_row(plain(f.name), plain(str(f.verdict), "red"), str(f.level), plain(f.explanation))
        console.print(table)
    if not as_json:
        share = "all" if report.sample_pct is None else f"a {report.sample_pct:g}% sample"
        if report.checked == 0:
            console.print("no stored WARC files to verify")
        else:
            levels = report.level_counts()
            console.print(f"checked {report.checked} of {report.total_objects} objects ({share}): "
                          f"{report.checked - len(report.findings)} ok, {len(report.findings)} findings"
                          + (f"; recorded as run {report.run_id}" if report.recorded else ""))
            console.print(f"levels: {levels['deep']} deep (every record digest recomputed), "
                          f"{levels['routine']} routine (stored digest, authentication tags and plaintext "
                          "sha256; record digests passed a deep check of the same plaintext)", soft_wrap=True)
    if not report.recorded:
        error_line("the results could not be recorded in the catalog; check the catalog and run again")
    if report.findings:
        sys.exit(1)


@click.group("keys")
def keys() -> None:
    """Manage the keys that protect every object's data key.

    \b
    Example:
      archiver keys rotate
    """


@keys.command("rotate")
@click.option("--remove-old", is_flag=True,
              help="Then destroy superseded key-file keys, only if every object was rewrapped.")
@click.option("--to-kms-key", default=None, metavar="ID",
              help="KMS mode: move every data key to this KMS key (id, ARN or alias).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def keys_rotate(ctx: click.Context, remove_old: bool, to_kms_key: str | None, as_json: bool) -> None:
    """Rewrap every object's data key under a new key; stored objects are not rewritten.

    With the key file, a new key is added and made current. With KMS (vault.kms_key_id),
    name the new key with --to-kms-key. Back up the catalog and the key file afterwards; stop
    capture before --remove-old. Exits 1 if any object could not be rewrapped.

    \b
    Example:
      archiver keys rotate
      archiver keys rotate --remove-old
      archiver keys rotate --to-kms-key alias/archive-2027
    """
    from archiver.services.keys import check_options, count_wrapped, rotate_keys

    app = get_app(ctx)
    check_options(app, remove_old=remove_old, to_kms_key=to_kms_key)  # before any progress output
    total = count_wrapped(app)
    with Progress(TextColumn("rewrapping"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=as_json) as bar:
        task = bar.add_task("rotate", total=total)
        report = rotate_keys(app, remove_old=remove_old, to_kms_key=to_kms_key,
                             on_batch=lambda n: bar.advance(task, n))
    if as_json:
        print_json(report.as_dict())
    else:
        table = Table("", "", title=f"Key rotation ({report.provider})", show_header=False)
        table.add_row("new key", report.new_key_id)
        table.add_row("previous keys", ", ".join(report.old_key_ids) or "none")
        table.add_row("rewrapped", str(report.rewrapped))
        table.add_row("already current", str(report.already_current))
        table.add_row("failed", f"[red]{report.failed}[/]" if report.failed else "0")
        table.add_row("old keys removable", "yes" if report.old_keys_removable else "no")
        table.add_row("removed", ", ".join(report.removed_key_ids) or "none")
        console.print(table)
        for failure in report.failures[:10]:
            console.print(Text.assemble(("failed", "red"), " ", plain(f"{failure.object_id}: {failure.message}")))
        console.print(f"next: {report.next_step()}")
    if report.failed:
        error_line(f"{report.failed} objects were not rewrapped; {report.next_step()}")
        sys.exit(1)
    if remove_old and report.provider == "key-file" and not report.removed_key_ids and report.old_key_ids:
        error_line(f"old keys were kept: {report.next_step()}")
        sys.exit(1)


@click.command("init")
@click.pass_context
@handle_errors
def init(ctx: click.Context) -> None:
    """Create an archive in ARCHIVER_HOME: folders, catalog and (without KMS) the key file.

    Read commands refuse a folder that holds no archive, so a mistyped ARCHIVER_HOME is never
    mistaken for an empty archive. Back up the key file at once (docs/operations.md).

    \b
    Example:
      ARCHIVER_HOME=/srv/archive archiver init
    """
    from archiver.core.settings import load_settings
    from archiver.services.archive_home import holds_archive

    existed = holds_archive(load_settings())
    app = get_app(ctx, create=True)
    if existed:
        click.echo(f"{app.settings.home} already holds an archive; nothing changed")
        return
    click.echo(f"created an archive in {app.settings.home}")
    if app.settings.vault.kms_key_id:
        click.echo(f"data keys are wrapped by AWS KMS key {app.settings.vault.kms_key_id}")
    else:
        click.echo(f"key file: {app.settings.key_file} (back it up now, apart from the archive)")


@keys.command("init")
@click.option("--force", is_flag=True,
              help="Even though stored objects need a lost key file (they stay unreadable).")
@click.pass_context
@handle_errors
def keys_init(ctx: click.Context, force: bool) -> None:
    """Create the key file of an archive that has none (never replaces one).

    Refused when the archive already holds objects encrypted under a key file: restore that
    file from backup instead. --force is only for a key file lost for good.

    \b
    Example:
      archiver keys init
    """
    from archiver.services.archive_home import init_key_file

    app = get_app(ctx)
    created = init_key_file(app, force=force)
    if created is None:
        click.echo(f"key file {app.settings.key_file} already exists; nothing changed")
    else:
        click.echo(f"created key file {created}; back it up now, apart from the archive")


@keys.command("init-export")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@handle_errors
def keys_init_export(ctx: click.Context, as_json: bool) -> None:
    """Create the district's Ed25519 key that signs export packages and destruction certificates.

    Once per district. The private key is stored wrapped under the key-encryption key (key
    file or KMS) in HOME/keys/export-signing.json: back it up with the key file. Publish the
    key id (e.g. on the district's records page) so requesters can check a package's signer.

    \b
    Example:
      archiver keys init-export
    """
    from archiver.services.keys import init_export_key

    report = init_export_key(get_app(ctx))
    if as_json:
        print_json(report.as_dict())
        return
    console.print(f"export signing key {report.key_id} created in {report.path}")
    console.print("next: back up that file with the key file; publish the key id so requesters "
                  "can check who signed a package")
