"""`archiver export verify DIR`: check a public records export package offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from archiver.cli.common import console, handle_errors, print_json, startup_done


@click.group("export")
def export() -> None:
    """Public records export packages (made by 'archiver requests export').

    \b
    Example:
      archiver export verify ./PRR-2026-0007
    """


@export.command("verify")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--expect-key", default=None,
              help="Key id or sha256 fingerprint the district publishes; fail on any other key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@handle_errors
def export_verify(folder: Path, expect_key: str | None, as_json: bool) -> None:
    """Check a package offline: manifests, signature, every WARC record's digests.

    Names every file that changed, appeared or vanished since the district signed it, and
    exits non-zero if anything did.

    \b
    Example:
      archiver export verify ./PRR-2026-0007 --expect-key ed25519:3f0c...
    """
    from archiver.services.exports import verify_export

    startup_done()  # it reads a whole package: the collector back on (see archiver.cli.main.main)
    verdict = verify_export(folder, expect_key=expect_key)
    if as_json:
        print_json({
            "path": str(verdict.path), "ok": verdict.ok, "request_id": verdict.request_id,
            "key_id": verdict.key_id, "key_fingerprint": verdict.key_fingerprint,
            "signature_ok": verdict.signature_ok, "files_checked": verdict.files_checked,
            "warc_records": verdict.warc_records, "changed": list(verdict.changed),
            "problems": list(verdict.problems),
        })
    else:
        table = Table("check", box=box.SIMPLE, title=f"Export package {escape(str(folder))}")
        table.add_column("result", overflow="fold")
        table.add_row("request", escape(verdict.request_id or "unknown"))
        table.add_row("signature", "valid" if verdict.signature_ok else "[red]INVALID[/]")
        table.add_row("signed by key", escape(verdict.key_id or "unknown"))
        table.add_row("key fingerprint (sha256)", escape(verdict.key_fingerprint or "unknown"))
        table.add_row("files checked", str(verdict.files_checked))
        table.add_row("WARC records checked", str(verdict.warc_records))
        console.print(table)
        for name in verdict.changed:
            console.print(f"[red]changed[/]: {escape(name)}")
        for line in verdict.problems:
            console.print(f"  {escape(line)}", highlight=False)
        if verdict.ok:
            console.print("[green]The package is intact[/]: every file matches what the district "
                          "signed. Compare the key fingerprint with the one the district publishes.")
    if not verdict.ok:
        if not as_json:
            click.secho(f"error: the package at {folder} does not verify; "
                        f"{len(verdict.changed)} file(s) changed", fg="red", err=True)
        sys.exit(1)
