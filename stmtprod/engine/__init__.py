"""The line engine: one run's life, written once for both products.

`life.start(product)` and `life.resume(run_id, out, reopen)` run it; `product.Product` is what a
product plugs in, `product.Step` one step of it, `run.Run` a run in progress, `points` the named
points where faults (drills, crash tests) may be injected. The ledger, lock, run folder, halts,
waiting, release, summary and report live beside them in this package.
"""
