"""Verification of every postal barcode: read back from the print file, against the source record.

Called by `stmtprod.verify` for every print file it reads. For each piece the postal decision is
recomputed from the source record (stmtprod.postal.piece.decide: DPID, postcode, address number)
and the bars it implies are encoded afresh with the reference encoders, not zint, which drew them.
The bars the first sheet's content states are decoded (parity or check character checked) and must
be exactly those; a piece that gets no postal barcode must carry none; the manifest's postage class
and bars must agree. Any difference halts the run.
"""
from __future__ import annotations

from stmtprod.errors import Halt
from stmtprod.postal import auspost, japanpost
from stmtprod.postal.piece import decide
from stmtprod.postal.read import PageLetters, PostalReadError, read_pages

ACTION = "pull the batch, correct the address data or the renderer, re-render and re-verify"


def reference_bars(symbology: str, fields: dict) -> str:
    if symbology == "auspost":
        return auspost.encode(fields["fcc"], fields["dpid"])
    return japanpost.encode(fields["postcode"], fields["address_number"])


def decoded_fields(symbology: str, bars: str) -> dict:
    """The fields a bar string decodes to; AusPostError/JapanPostError when it does not decode."""
    if symbology == "auspost":
        d = auspost.decode(bars)
        return {"fcc": d.fcc, "dpid": d.dpid}
    d = japanpost.decode(bars)
    return {"postcode": d.postcode, "address_number": d.address_number}


def check_file(pdf_path: str, rows: list[dict], sources: dict, batch: str, read: PageLetters | None = None) -> None:
    """Halt at the first piece of the print file whose postal barcode is not what its record implies.
    `read`: the first sheets' bars gathered while another reader went through the file's content."""
    try:
        found = read.result() if read is not None else read_pages(pdf_path, [row["first_page"] - 1 for row in rows])
    except (PostalReadError, OSError) as exc:
        raise Halt(f"postal barcode unreadable: {exc}", step="verify", batch=batch, field="postal_barcode",
                   action=ACTION) from None
    for row in rows:
        record = sources.get(row["line"])
        at = {"step": "verify", "batch": batch, "piece": row["sequence"], "page": row["first_page"], "sheet": 1}
        check_piece(row, record, found[row["first_page"] - 1], at)


def address_number_as_printed(wanted, fields: dict, bars: str) -> tuple[str, str | None]:
    """The record's address number as a barcode with the printed postcode holds it (the barcode has room
    for 13 characters), and the reference bars when that barcode is them (None otherwise)."""
    if fields.get("postcode") == wanted.fields.get("postcode"):
        # The printed postcode is the record's: the round trip is the reference encoding, and for bars
        # that are the reference its address number is the one decoded from them already.
        expected = reference_bars(wanted.symbology, wanted.fields)
        return (fields["address_number"] if bars == expected else japanpost.decode(expected).address_number), expected
    return japanpost.decode(japanpost.encode(fields["postcode"], wanted.fields["address_number"])).address_number, None


def check_piece(row: dict, record, bars: str | None, at: dict) -> None:
    decision = decide(record)
    entry = row.get("postal") or {}
    if entry.get("class") != decision.postal_class:
        raise Halt("postage class in the manifest differs from what the address implies", **at,
                   field="postal_class", expected=decision.postal_class, found=entry.get("class"), action=ACTION)
    wanted = decision.wanted
    if wanted is None:
        if bars is not None:
            raise Halt("a postal barcode is printed on a piece that must carry none", **at, field="postal_barcode",
                       expected=None, found=bars, action=ACTION)
        return
    if bars is None:
        raise Halt("the postal barcode is missing", **at, field="postal_barcode",
                   expected=reference_bars(wanted.symbology, wanted.fields), found=None, action=ACTION)
    try:
        fields = decoded_fields(wanted.symbology, bars)
    except ValueError as exc:
        raise Halt(f"the printed postal barcode does not decode: {exc}", **at, field="postal_barcode",
                   expected=reference_bars(wanted.symbology, wanted.fields), found=bars, action=ACTION) from None
    expected = None
    for name, value in wanted.fields.items():
        if name == "address_number":
            value, expected = address_number_as_printed(wanted, fields, bars)
        if fields.get(name) != value:
            raise Halt(f"the printed postal barcode's {name} differs from the record", **at, field=name,
                       expected=wanted.fields[name], found=fields.get(name), action=ACTION)
    if expected is None:
        expected = reference_bars(wanted.symbology, wanted.fields)
    if bars != expected:
        raise Halt("the printed postal barcode differs from the reference encoding", **at, field="postal_barcode",
                   expected=expected, found=bars, action=ACTION)
    if entry.get("bars") != bars:
        raise Halt("the manifest's postal bars differ from the printed ones", **at, field="postal_barcode",
                   expected=bars, found=entry.get("bars"), action=ACTION)
