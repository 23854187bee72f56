"""The garbage collector of the long-running processes (`verify serve`, `verify worker`).

CPython starts a young-generation collection whenever the container objects allocated,
net of those freed, pass threshold 0 (700 by default). A batch of 1,000 items, or a job
chunk of 2,000 lines, keeps some 15 containers per item alive until it answers (claims,
records, outcomes, audit entries, result dicts): at 700 that is a young collection every
~50 items, each walking the live objects of the batch and promoting them to older
generations, whose collections then walk them again. None of it is garbage: reference
counting frees it all when the answer is sent. Measured on a batch's whole Python path
(parse, records, evaluate, audit entries, serialise), the collector took 2.0-2.3 us per
item at 700, about 7 % of it, and nothing at 50,000, where a collection waits for about
three batches' worth of objects alive at once (cyclic garbage, rare here, is held at most
that long: a few MB).

Everything made at startup (modules, the app, pools, tables) is frozen first: it never
becomes garbage, and the full collections stop walking it.
"""

from __future__ import annotations

import gc

DEFAULT_GEN0 = 50_000  # VERIFY_GC_GEN0; CPython's own default is 700


def settle(gen0: int = DEFAULT_GEN0) -> None:
    """Call once startup is done: collect, freeze what is left, raise threshold 0."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2)
