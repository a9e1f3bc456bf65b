"""Builds the compiled content scan (stmtprod/barcode/_scan.c); pyproject.toml holds the metadata."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("stmtprod.barcode._scan", ["stmtprod/barcode/_scan.c"],
                             extra_compile_args=["-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-missing-field-initializers"])])
