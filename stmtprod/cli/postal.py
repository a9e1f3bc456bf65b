"""`stmtprod postal ...`: encode a postal barcode and show a Japanese address's number, for operators.

Registered with the main group: ``main.add_command(postal)``.
"""
from __future__ import annotations

import json
import sys

import click

from stmtprod.cardnumbers import card_number_field, redact
from stmtprod.errors import EXIT_USAGE
from stmtprod.postal import auspost, japanpost, zintcode
from stmtprod.postal.address import AddressNumberError, address_number


def _refuse(message: str, as_json: bool) -> None:
    message = redact(message)
    click.echo(f"stmtprod postal: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": EXIT_USAGE}, ensure_ascii=False))
    sys.exit(EXIT_USAGE)


def _refuse_card_numbers(fields: list[tuple[str, str]], as_json: bool) -> None:
    """Nothing that could be a card number is encoded or echoed."""
    where = card_number_field(fields)
    if where is not None:
        _refuse(f"{where} holds what could be a card number: refused", as_json)


@click.group("postal")
def postal() -> None:
    """Postal barcodes: Australia Post 4-state and Japan Post customer barcode."""


@postal.command()
@click.option("--symbology", required=True, type=click.Choice(["auspost", "japanpost"]))
@click.option("--fcc", type=click.Choice(["11", "59", "62"]), default="11", show_default=True,
              help="AusPost format control code.")
@click.option("--dpid", help="AusPost Delivery Point Identifier (8 digits).")
@click.option("--info", default="", help="AusPost customer information (FCC 59 or 62).")
@click.option("--table", type=click.Choice(["N", "C"]),
              help="AusPost table for --info (default: N for digits only, else C).")
@click.option("--postcode", help="Japan Post postcode (NNNNNNN or NNN-NNNN).")
@click.option("--address-number", help="Japan Post address number (住所表示番号), e.g. 3-16-4-205.")
@click.option("--json", "as_json", is_flag=True, help='Print {"bars": ..., "fields": {...}}.')
def encode(symbology, fcc, dpid, info, table, postcode, address_number, as_json):
    """Print the bars as letters, leftmost first: F full, A ascender, D descender, T tracker."""
    _refuse_card_numbers([("--dpid", dpid or ""), ("--info", info), ("--postcode", postcode or ""),
                          ("--address-number", address_number or "")], as_json)
    try:
        if symbology == "auspost":
            if dpid is None:
                raise ValueError("--dpid is required for auspost")
            bars = zintcode.auspost_bars(int(fcc), dpid, info, table)
            decoded = auspost.decode(bars, table or (auspost.info_table(info) if info else None))
            fields = {"fcc": decoded.fcc, "dpid": decoded.dpid, "info": decoded.info, "table": decoded.table}
        else:
            if postcode is None or address_number is None:
                raise ValueError("--postcode and --address-number are required for japanpost")
            bars = zintcode.japanpost_bars(postcode, address_number)
            decoded = japanpost.decode(bars)
            fields = {"postcode": decoded.postcode, "address_number": decoded.address_number,
                      "characters": list(decoded.characters), "check": decoded.check}
    except ValueError as exc:
        _refuse(str(exc), as_json)
        return
    click.echo(json.dumps({"bars": bars, "fields": fields}, ensure_ascii=False) if as_json else bars)


@postal.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help='Print {"address_number": ...}.')
def address(text, as_json):
    """Print the address number (住所表示番号) Japan Post's rules give for an address."""
    _refuse_card_numbers([("TEXT", text)], as_json)
    try:
        number = address_number(text)
    except AddressNumberError as exc:
        _refuse(str(exc), as_json)
        return
    click.echo(json.dumps({"address_number": number}, ensure_ascii=False) if as_json else number)
