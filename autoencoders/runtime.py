"""Process-wide settings, set in one place and the same way for every stage (`run`):

- denormal floats flushed to zero: Adam's moments for weights whose gradient is exactly zero (dead
  ReLU units) decay into the denormal range, where x86 arithmetic is many times slower (deep2d's
  training took 80 s instead of 31 s on the 2-core Xeon, 2026-11);
- torch's deterministic algorithms, warning where an operation has none.

Each torch thread keeps its own float mode, and the intra-op workers copy the main thread's when torch
creates them, at its first parallel operation: so the modes are set before main() computes anything.
A stage that computes with torch imports it at the top; a stage that does not (download, split, knn,
report, track) does not pay torch's import for these settings. Threads are left as torch and
OpenBLAS choose; the few steps where one BLAS thread is faster limit themselves (threadpoolctl).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .errors import handled


def configure_torch() -> None:
    import torch

    torch.set_flush_denormal(True)
    # torch.use_deterministic_algorithms also sets inductor's flag, and importing inductor's config
    # imports torch._dynamo: 2 s in every stage, for a flag that only torch.compile reads and no stage
    # compiles. The flag eager operations read is this one, set the same way.
    torch._C._set_deterministic_algorithms(True, warn_only=True)


def run(main: Callable[[], object]) -> None:
    """A stage's entry: the settings above, then main(); a UserError is one line and exit status 1."""
    if "torch" in sys.modules:
        configure_torch()
    status = handled(main)
    if status:
        sys.exit(status)
