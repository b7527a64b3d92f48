"""`chatvault risk …`: the offline scan (no server, no database) and lexicon import/export/list."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

risk_app = typer.Typer(help="Risk analyser: scan files, manage the lexicon.", no_args_is_help=True)
lexicon_app = typer.Typer(help="The risk lexicon (rules are data).", no_args_is_help=True)
risk_app.add_typer(lexicon_app, name="lexicon")


@risk_app.command("scan")
def scan(
    input: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines: {id,text} or {id,messages}")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here instead of stdout")] = None,
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


@lexicon_app.command("export")
def lexicon_export(output: Annotated[Path | None, typer.Option("-o", "--output")] = None) -> None:
    """Write the active lexicon as JSON (the database's newest version, else the built-in default)."""
    from api.cli import _active_lexicon_json

    data = orjson.dumps(_active_lexicon_json(), option=orjson.OPT_INDENT_2)
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data + b"\n")


@lexicon_app.command("import")
def lexicon_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    note: Annotated[str, typer.Option(help="what changed, recorded with the version")] = "imported from file",
) -> None:
    """Validate a lexicon JSON file and make it the active version (recorded with who and what)."""
    from api.cli import _import_lexicon

    version = _import_lexicon(file.read_bytes(), note)
    typer.echo(f"lexicon version {version} is active")


@lexicon_app.command("list")
def lexicon_list() -> None:
    """List the active rules."""
    from api.cli import _active_lexicon_json

    data = _active_lexicon_json()
    typer.echo(f"version {data['version']}, {len(data['rules'])} rules")
    for r in data["rules"]:
        tier = r.get("tier") if r.get("tier") is not None else "-"
        typer.echo(f"  {r['id']:32s} {r['category']:18s} tier={tier} {r['match']:6s} {len(r['terms'])} terms")


if __name__ == "__main__":
    risk_app()
