"""`archiver accounts list` reads the accounts once (issue 13 part 5: it read every account's row
twice, once for the table and once more to match each row with its quota budget)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import event

from archiver.cli.main import cli
from tests.harness import Harness


def test_accounts_list_reads_the_accounts_table_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(" ".join(statement.split()))

        event.listen(h.app.catalog.engine, "before_cursor_execute", seen)
        listed = CliRunner().invoke(cli, ["accounts", "list", "--json"], obj={"app": h.app}, catch_exceptions=False)
        assert listed.exit_code == 0, listed.output
        assert [a["account"] for a in json.loads(listed.output)] == [h.account.account_id]
        assert len([s for s in statements if s.startswith("SELECT accounts.id, accounts.platform, accounts.account_id, accounts.name")]) == 1, statements
    finally:
        h.close()
