"""Finding card numbers in free text, however they are written, and keeping them out of messages.

A card number can reach paper or a log through any text a record carries: a name, an address line,
a transaction description (`REF 4111 1111 1111 1111`), a JSON key, a value echoed in an error.
Upstream systems and attackers write it in many ways, so text is read the way a person reads it:
each character is NFKC-normalised, every Unicode decimal digit (fullwidth, Arabic-Indic, Devanagari,
...) and every one-digit numeral (〇 一 二 ... 九, 壹 ... 玖) counts as its ASCII digit, an enclosed
number as its digits (⓫ as 11), letters of words end a run of digits, and everything else is a
separator inside a run: spaces of any kind, NBSP, dots, slashes, dashes of any kind, zero-width and
other format characters, soft hyphens, punctuation, symbols, combining marks, and the letters that
are written as marks or strokes rather than as letters of a word: modifier letters (the apostrophe
ʼ, ˌ, the length mark ː, the katakana long-vowel mark ー that Japanese text uses as a dash), and the
letters drawn as a bare stroke or dot (`_STROKES`: the click letters ǀ ǁ ǂ ǃ, Hangul ㅡ ㅣ ㆍ,
Bopomofo ㄧ, the CJK stroke radicals 丨 丶 丿 亅, ...). Texts printed next to each other (the lines
of an address) are also read joined.

- `card_number_field`: the first field whose text holds a card number: a run of digits containing a
  Luhn-valid stretch of 13 to 19 digits. Ingest quarantines such records on both lines.
- `redact`: a message with every run of `ECHO_MAX_DIGITS + 1` or more digits replaced, so no
  quarantine reason, halt or field path can repeat a card number (or most of one), whatever its form.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from itertools import chain
from operator import attrgetter
from typing import Sequence

PAN_MIN, PAN_MAX = 13, 19
ECHO_MAX_DIGITS = 11      # a message may quote at most this many digits in a row
MASK = "[digits removed]"
_BREAK = "|"
_LETTER = "~"    # one letter beyond ASCII: a separator between digits (4111ꞌ1111), else the end of a run
_APART = "ZZ"    # put between texts read one by one: a word, so no run of digits spans two
_RUN = re.compile(r"[0-9]{%d,}" % PAN_MIN)
_LONE = re.compile(r"(?<=[0-9])~(?=[0-9])")   # a letter alone between digits, separators aside
_ASCII_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
# ASCII letters end a run, one alone too: a code's letter (4x4, T and Z in 2026-12-01T10:22:33Z) is not
# a separator a reader of card numbers takes it for
_ASCII_RUN = re.compile(r"[0-9](?:[^A-Za-z0-9]*[0-9]){%d}" % (PAN_MIN - 1))
# `_ASCII_RUN` for bytes, as C table look-ups: letters end a run, other non-digits are dropped
_ASCII_SEPARATOR_BYTES = bytes(b for b in range(128) if not chr(b).isalnum())
_ASCII_VIEW = bytes(b if chr(b).isdigit() or b >= 128 else ord(_BREAK) for b in range(256))
_ASCII_DIGITS_RUN = re.compile(rb"[0-9]{%d}" % PAN_MIN)
_ESCAPES = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|U([0-9a-fA-F]{8})|[tnrfvab\\'\"])")


class _Reading(dict):
    """Code point -> how it reads: its ASCII digits, '' for a separator, `_LETTER` for one letter beyond
    ASCII (a separator when alone between digits), `_BREAK` for an ASCII letter, a word and the like.

    A `str.translate` table, filled as characters are first met."""

    def __missing__(self, code: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(code))
        digits, other, letters = [], False, 0
        for c in folded:
            value = unicodedata.decimal(c, None)
            if value is None:
                value = unicodedata.digit(c, None)
            if value is None and unicodedata.numeric(c, -1) in _ONE_DIGIT:   # 〇 一 ... 九, 壹 ... 玖
                value = int(unicodedata.numeric(c))
            if value is None and _enclosed_number(c):   # ⓫ ... ⓴, ❿, ㉈ ...: no NFKC form spells them out
                value = int(unicodedata.numeric(c))
            category = unicodedata.category(c)
            if value is not None:
                digits.append(str(value))
            elif category in _WORD_LETTERS and ord(c) not in _STROKES:
                letters += 1   # a letter: alone between digits a separator, in a word the end of a run
            elif category[0] == "N":
                other = True   # a numeral that is not a digit (kanji 十) ends a run
        if letters:   # an ASCII letter ends a run, as on the ASCII path; so does a word
            other = other or letters > 1 or bool(digits) or code < 128
        reading = _BREAK if other else _LETTER if letters else "".join(digits)
        if len(self) < _CACHE_MAX:      # bounded: an extract of every code point must not grow it to 1.1M
            self[code] = reading
        return reading


def _enclosed_number(c: str) -> bool:
    """A circled or parenthesised number of two digits (⓫, ❿, ㉈), read as the number it encloses. An
    enclosed ideograph (㊉, ten) is a word's numeral, as 十 is."""
    if unicodedata.category(c) != "No" or unicodedata.numeric(c, -1) not in _TWO_DIGITS:
        return False
    name = unicodedata.name(c, "")
    return "NUMBER" in name and ("CIRCLED" in name or "PARENTHESIZED" in name)


_ONE_DIGIT = frozenset(range(10))
_TWO_DIGITS = frozenset(range(10, 100))
# Letters that make words: cased letters and the other letters of scripts (kana, hanzi, Hangul, Thai,
# ...). Modifier letters (Lm) are not among them: they are written as marks (ʼ ˌ ː, and ー, the long-vowel
# mark Japanese text also uses as a dash); after NFKC, those that stand for a letter (ʰ, ᵃ) are that letter.
_WORD_LETTERS = frozenset({"Lu", "Ll", "Lt", "Lo"})
# Letters of a script drawn as a bare stroke, bar or dot, which read as a separator between digits:
# the click letters ǀ ǁ ǂ ǃ, Hangul ㅡ ㅣ ㆍ (and their jamo ᅳ ᅵ ᆞ), Bopomofo ㄧ, the CJK stroke radicals
# 丨 丶 丿 乀 乁 亅 (the Kangxi radicals ⼁ ⼂ ⼃ ⼅ fold to them), Arabic alef ا, Hebrew vav ו and yod י,
# Runic isaz ᛁ, Tifinagh yan ⵏ, the Canadian syllabics finals ᐟ ᐠ ᐥ ᐦ ᐧ ᐨ ᐩ ᣟ and the sinological dot ꞏ.
_STROKES = frozenset({0x01C0, 0x01C1, 0x01C2, 0x01C3, 0x3161, 0x3163, 0x318D, 0x1173, 0x1175, 0x119E, 0x3127,
                      0x4E28, 0x4E36, 0x4E3F, 0x4E40, 0x4E41, 0x4E85, 0x0627, 0x05D5, 0x05D9, 0x16C1, 0x2D4F,
                      0x141F, 0x1420, 0x1425, 0x1426, 0x1427, 0x1428, 0x1429, 0x18DF, 0xA78F})
_CACHE_MAX = 1 << 16
_READING = _Reading()


def digit_view(text: str) -> str:
    """The text as a person reads its digits: ASCII digits, separators and a letter alone between digits
    gone, and a letter, `~` or `|` where a run ends."""
    if text.isascii():
        return _ASCII_SEPARATORS.sub("", text)   # letters stay, and end runs just as `|` does
    return _LONE.sub("", text.translate(_READING))


def _long_run(text: str) -> bool:
    """True when the text has 13 or more digits in a row (separators aside): worth a closer look."""
    if text.isascii():
        return _ASCII_RUN.search(text) is not None
    return _RUN.search(digit_view(text)) is not None


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _holds_card_number(view: str) -> bool:
    for m in _RUN.finditer(view):
        run = m.group(0)
        for size in range(PAN_MIN, min(PAN_MAX, len(run)) + 1):
            if any(luhn_ok(run[i:i + size]) for i in range(len(run) - size + 1)):
                return True
    return False


def card_number_field(fields: Sequence[tuple[str, str]],
                      blocks: Sequence[tuple[str, Sequence[Sequence[tuple[str, str]]]]] = ()) -> str | None:
    """The path of the first text holding a card number, or None.

    `fields`: (path, text) read one by one. `blocks`: (name, orders) where each order is a sequence of
    (path, text) printed one after the other (an address block, in each order a layout prints it; the
    descriptions down a statement), read joined, so a number split across lines is found; a number in
    one text is named by its path, one split across texts by the block's name. Everything is first
    read as one text with a letter between the pieces: without 13 digits in a row anywhere (the
    common case) that one look is all it costs.
    """
    joined = [(name, "".join(t for _, t in order)) for name, orders in blocks for order in orders]
    if not _long_run(_APART.join([t for _, t in fields] + [t for _, t in joined])):
        return None
    singles = [*fields, *(item for _, orders in blocks for item in orders[0])]
    for path, text in [*singles, *joined]:
        if _holds_card_number(digit_view(text)) or (not _ONES.isdisjoint(text)
                                                    and _holds_card_number(digit_view(text.translate(_ONES_AS_DASHES)))):
            return path
    return None


# The numerals one that are also drawn as a dash (一 between the groups of a Japanese address or number
# is a hyphen as often as a 1): a text holding one is read both ways.
_ONES = frozenset("一〡⼀")
_ONES_AS_DASHES = str.maketrans(dict.fromkeys(_ONES, "-"))


def _unescaped(m: re.Match) -> str:
    code = m.group(1) or m.group(2) or m.group(3)
    if code is None:
        return " "                     # \t, \n, \\, \' ...: a separator, as the character it stands for
    ch = chr(int(code, 16)) if int(code, 16) < 0x110000 else " "
    return " " if unicodedata.category(ch) in ("Cc", "Cs") else ch


def redact(text: str) -> str:
    """`text` with every run of more than `ECHO_MAX_DIGITS` digits (in any script and spacing) masked.

    Messages quote values with `repr`, which writes NBSP as `\\xa0` and an ideographic space as
    `\\u3000`; such escapes are first put back as the characters they stand for, so that their
    letters do not hide a number.
    """
    if text.isascii() and sum(map(text.count, "0123456789")) <= ECHO_MAX_DIGITS:
        return text
    if "\\" in text:
        text = _ESCAPES.sub(_unescaped, text)
    out, start, last, digits = [], None, 0, 0
    pieces = [_READING[ord(ch)] for ch in text]

    def close() -> None:
        nonlocal start, digits
        if start is not None and digits > ECHO_MAX_DIGITS:
            out.append((start, last + 1))
        start, digits = None, 0

    following, after = [None] * len(pieces), None   # the next piece that is not a separator, for each
    for i in range(len(pieces) - 1, -1, -1):
        following[i] = after
        if pieces[i]:
            after = pieces[i]
    in_digits = False
    for i, reading in enumerate(pieces):
        if reading == _LETTER and in_digits and following[i] not in (None, _BREAK, _LETTER):
            continue   # a letter alone between digits: a separator
        if reading in (_BREAK, _LETTER):
            close()
            in_digits = False
        elif reading:
            if start is None:
                start = i
            last, digits, in_digits = i, digits + len(reading), True
    close()
    if not out:
        return text
    result, pos = [], 0
    for a, b in out:
        result += [text[pos:a], MASK]
        pos = b
    return "".join(result + [text[pos:]])


def echo_safe(value: object) -> bool:
    """True when `value` may appear in a message as it is: not a string, or one `redact` leaves alone."""
    return not isinstance(value, str) or redact(value) == value


def reason(path: str) -> str:
    """The quarantine reason for a card number found at `path` (never the text itself)."""
    return (f"{path} holds what reads as a card number ({PAN_MIN} to {PAN_MAX} digits passing the Luhn check, "
            "in any script or spacing): not printed; correct the record upstream")


_SUMMARY_AMOUNTS = ("previous_balance", "payments", "credits", "fees", "interest", "new_balance", "minimum_due")


def _address_orders(name: str, address) -> list[list[tuple[str, str]]]:
    """The address block's texts in the orders layouts print them: western, and Japanese (postcode first)."""
    lines = [(f"address.lines.{i}", t) for i, t in enumerate(address.lines)]
    city, state, postcode = ("address.city", address.city), ("address.state", address.state), \
        ("address.postcode", address.postcode)
    return [[("name", name), *lines, city, state, postcode], [postcode, state, city, *lines, ("name", name)]]


_TOTALS = attrgetter(*_SUMMARY_AMOUNTS)
_AMOUNT, _DESCRIPTION = attrgetter("amount"), attrgetter("description")
_VIEWS: dict[str, str] = {}   # text -> `_READING` view: merchants, streets and towns repeat from record to record
_VIEWS_MAX = 1 << 14


def _view(text: str) -> str:
    view = _VIEWS.get(text)
    if view is None:
        view = text.translate(_READING)
        if len(_VIEWS) >= _VIEWS_MAX:
            _VIEWS.clear()
        _VIEWS[text] = view
    return view


def _views(texts: list[str]) -> str:
    """The view of the joined texts, from the remembered views when all are known (one look-up each, in C)."""
    views = list(map(_VIEWS.get, texts))
    return "".join(views if None not in views else map(_view, texts))


def statement_card_number(record) -> str | None:
    """The first field of a statement record (`StatementRecord`) that holds a card number, or None.

    Amounts print too, so one of 13 digits or more (10^10 and up) is read like text; the first look
    uses the texts alone, without building a path for each transaction. Text beyond ASCII is read
    text by text (`str.translate` reads character by character, so the view of the joined texts is
    the views joined), and a text's view is remembered.
    """
    transactions = record.transactions
    descriptions = list(map(_DESCRIPTION, transactions))
    address = record.address
    big = max(map(Decimal.adjusted, chain(_TOTALS(record), map(_AMOUNT, transactions)))) >= 10
    if not big:
        block = [record.name, *address.lines, address.city, address.state, address.postcode]
        first_look = [[record.account_id], [record.product], [str(record.points)], *([s] for s in record.segments),
                      descriptions, block, [address.postcode, address.state, address.city, *address.lines, record.name]]
        joined = _APART.join(["".join(texts) for texts in first_look])
        if joined.isascii():
            if _ASCII_DIGITS_RUN.search(joined.encode().translate(_ASCII_VIEW, _ASCII_SEPARATOR_BYTES)) is None:
                return None
        elif _RUN.search(_LONE.sub("", _BREAK.join(map(_views, first_look)))) is None:
            return None
    fields = [("account_id", record.account_id), ("product", record.product), ("points", str(record.points))]
    fields += [(f"segments.{i}", s) for i, s in enumerate(record.segments)]
    fields += [(path, str(amount)) for path, amount in record.amounts() if amount.adjusted() >= 10]
    blocks = [("address", _address_orders(record.name, address)),
              ("transactions", [[(f"transactions.{i}.description", t) for i, t in enumerate(descriptions)]])]
    return card_number_field(fields, blocks)


def order_card_number(order) -> str | None:
    """The first text field of a card order (`CardOrder`, its `pan` aside) that holds a card number, or None."""
    fields = [("card_id", order.card_id), ("embossed_name", order.embossed_name), ("product", order.product)]
    fields += [(f"segments.{i}", s) for i, s in enumerate(order.segments)]
    return card_number_field(fields, [("address", _address_orders(order.name, order.address))])
