"""A print file's pages and page contents serialized as ReportLab serializes them, with less Python.

ReportLab formats every page dictionary and every content stream's dictionary through its generic
object formatter (names escaped character by character, numbers through `fp_str`, nested
dictionaries and arrays): about 90 us a page, a tenth of a statement sheet's render time, to write
the same few hundred bytes each time. A page's dictionary is a function of the page's attributes
and of its content stream's object number alone, so the first page of a kind is formatted by
ReportLab and every later page whose attributes are equal (compared by value, anything unknown
compared never) is written as that text around its own stream's number, after the same `check_format` and
`Reference` calls, so objects are numbered as before. A content stream is written from its
compressed bytes once the document's first stream came out of ReportLab the same way; anything
else (other filters, a stream dictionary, encryption) goes through ReportLab.
"""
from __future__ import annotations

import zlib
from functools import partial

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc

# Page attributes that do not go into its dictionary's text: its registered name, its content
# (only its object number does, handled apart), and the fast formatter itself.
_NOT_DICTIONARY = frozenset({"__InternalName__", "stream", "format"})
_ATOMS = (type(None), bool, int, str, bytes)
_KINDS = 16  # kinds of page remembered per document (a print file has one)


class _Unknown(Exception):
    """A value whose text could not be shown equal by comparing it: that page goes through ReportLab."""


def _frozen(value):
    """A snapshot of a value, equal for values ReportLab formats to the same text."""
    kind = type(value)
    if kind in _ATOMS:
        return kind, value
    if kind is float:
        return kind, repr(value)  # -0.0 == 0.0, but not as text
    if kind in (list, tuple):
        return kind, tuple(_frozen(v) for v in value)
    if kind is dict:
        return kind, tuple((k, _frozen(v)) for k, v in value.items())
    if kind in (pdfdoc.PDFDictionary, pdfdoc.PDFArray, pdfdoc.PDFObjectReference):
        return kind, _frozen(vars(value))
    raise _Unknown(kind)


def _snapshot(page) -> tuple | None:
    """`_frozen` of the page's attributes (less those in `_NOT_DICTIONARY`): the atoms among them
    (nearly all: most are None) taken in this loop rather than one call each."""
    items = []
    try:
        for k, v in vars(page).items():
            if k not in _NOT_DICTIONARY:
                kind = type(v)
                items.append((k, (kind, v) if kind in _ATOMS else _frozen(v)))
    except _Unknown:
        return None
    return dict, tuple(items)


class _Writer:
    """One document's formatting pass: the text of each kind of page, and whether streams may be written directly."""

    def __init__(self):
        # A page's attributes -> its dictionary's text before and after its stream's number (False: no such split).
        self.around: dict[tuple, tuple[bytes, bytes] | bool] = {}
        self.streams: bool | None = None  # None: not tried yet

    def page(self, page, document) -> bytes:
        snapshot = _snapshot(page) if page.stream else None  # an empty page gets ReportLab's test stream
        around = self.around.get(snapshot) if snapshot is not None else None
        if around:
            page.check_format(document)
            self._stream(page.Contents)
            return around[0] + document.Reference(page.Contents).format(document) + around[1]
        text = pdfdoc.PDFPage.format(page, document)
        self._stream(page.Contents)
        if around is None and snapshot is not None and len(self.around) < _KINDS:
            head = b"<<\n/Contents " + document.Reference(page.Contents).format(document)
            self.around[snapshot] = text.startswith(head) and (b"<<\n/Contents ", text[len(head):])
        return text

    def _stream(self, stream) -> None:
        if type(stream) is pdfdoc.PDFStream and "format" not in vars(stream):
            stream.format = partial(self.stream, stream)

    def stream(self, stream, document) -> bytes:
        plain = (self.streams is not False and isinstance(stream.content, str) and not stream.dictionary.dict
                 and type(stream.dictionary) is pdfdoc.PDFDictionary and stream.filters is not None
                 and len(stream.filters) == 1 and stream.filters[0] is pdfdoc.PDFZCompress
                 and type(document.encrypt) is pdfdoc.NoEncryption)
        if not plain:
            return pdfdoc.PDFStream.format(stream, document)
        data = zlib.compress(stream.content.encode("utf8"))
        text = b"<<\n/Filter [ /FlateDecode ] /Length " + fp_str(len(data)).encode("ascii") + b"\n>>\nstream\n" + data \
            + b"endstream\n"
        if self.streams is None:
            self.streams = text == pdfdoc.PDFStream.format(stream, document)
            if not self.streams:
                return pdfdoc.PDFStream.format(stream, document)
        return text


def prepare(canvas) -> None:
    """Before `canvas.save()`: its pages (and their content streams) are formatted by the faster path."""
    writer = _Writer()
    for page in canvas._doc.Pages.pages:
        if type(page) is pdfdoc.PDFPage:
            page.format = partial(writer.page, page)


def release(canvas) -> None:
    """After `canvas.save()` (or a failed one): the formatters `prepare` set are removed. Each holds its
    page or stream, a reference cycle that left the document's objects for the cyclic collector to find
    (a fifth of a batch's render time in the collection at its end) rather than freed as it is dropped."""
    for page in canvas._doc.Pages.pages:
        if type(page) is pdfdoc.PDFPage:
            vars(page).pop("format", None)
            stream = vars(page).get("Contents")
            if type(stream) is pdfdoc.PDFStream:
                vars(stream).pop("format", None)
