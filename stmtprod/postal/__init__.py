"""Postal barcodes: Australia Post's 4-state customer barcode and Japan Post's customer barcode.

The postal operator's own barcode in the address block earns the barcoded postage class. This
package encodes both (zint in production, a small reference encoder written from the
specifications to check it), derives what they carry from a record (DPID, 住所表示番号), draws them
as vector bars, reads them back from bar geometry or a raster, and measures them.

Bars are written as letters, leftmost first: F full, A ascender, D descender, T tracker (timing).
"""
