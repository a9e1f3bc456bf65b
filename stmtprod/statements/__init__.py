"""The statement product: a cycle extract in, statements for seven markets out (`line.Statements`).

`line.build(options)` makes a run on the engine (`stmtprod.engine`).
"""
