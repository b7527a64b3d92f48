"""`chatvault risk scan`: the offline scan (no server, no database)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

risk_app = typer.Typer(help="Risk analyser: scan files, manage the lexicon.", no_args_is_help=True)


@risk_app.callback()
def _group() -> None:
    """Keeps `scan` a subcommand even when this module runs alone (python -m archive.risk.cli scan …)."""


# Commands that need the database (lexicon import/export/list, rescan) are added by api/cli.py.


@risk_app.command("scan")
def scan(
    input: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines: {id,text} or {id,messages}")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    lexicon: Annotated[Path | None, typer.Option(help="a lexicon JSON file instead of the default")] = None,
) -> None:
    """Scan messages or conversations; one JSON line out per line in (bad lines get an error line)."""
    from archive.kit.errors import ChatVaultError
    from archive.risk.analyzer import Analyzer
    from archive.risk.lexicon import Lexicon
    from archive.risk.scan import scan_stream

    try:
        lex = Lexicon.from_json(lexicon.read_bytes()) if lexicon else Lexicon.default()
    except ChatVaultError as exc:
        typer.secho(f"error: {exc.detail}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    analyzer = Analyzer(lex)
    with input.open("rb") as src:
        if output is None:
            n, errors = scan_stream(analyzer, src, sys.stdout.buffer)
        else:
            with output.open("wb") as dst:
                n, errors = scan_stream(analyzer, src, dst)
    typer.echo(f"scanned {n} records ({errors} errors)", err=True)


if __name__ == "__main__":
    risk_app()
