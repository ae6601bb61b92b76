"""Mixture fitting: what `gmm` costs on one variant's codes (every size in gaussians.components, every
digit, as analyze@V fits them), ours (one BLAS thread, EM tolerance densities.EM_TOL) beside the
baselines it was chosen over: two BLAS threads, and scikit-learn's default tolerance (1e-3). Each
row also gives the mean validation log-likelihood per code, so a faster fit is seen not to be worse.

  python -m benchmarks.gmm_fit [--variant conv30]     (after `dvc repro analyze@conv30`; about 3 minutes)
"""

import argparse
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from autoencoders import densities, latent, params
from benchmarks.pipeline import cpu_model


def fit(emb: dict, components: list[int], threads: int, tol: float) -> tuple[float, float]:
    """(seconds, mean validation log-likelihood per code) of GMM.fit on every digit at these settings.
    GMM.fit limits BLAS to one thread itself: for the baseline, its limit is replaced by `threads`."""
    saved = densities.EM_TOL, densities.threadpool_limits
    densities.EM_TOL = tol
    densities.threadpool_limits = lambda limits, api: threadpool_limits(threads, api)
    try:
        start = time.perf_counter()
        _, val_ll = densities.fit_per_digit("gmm", emb["train"], emb["val"], components, seed=0)
        return time.perf_counter() - start, val_ll
    finally:
        densities.EM_TOL, densities.threadpool_limits = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="conv30")
    args = parser.parse_args()
    components = params.load().gaussians.components
    emb = latent.load_embeddings(Path("data/embeddings") / f"{args.variant}.parquet")
    emb = {s: (z.astype(np.float64), y) for s, (z, y) in emb.items()}
    rows = [
        ("ours: 1 BLAS thread, tol", 1, densities.EM_TOL),
        ("2 BLAS threads, tol", 2, densities.EM_TOL),
        ("1 BLAS thread, scikit-learn's tol", 1, 1e-3),
    ]
    print(f"gmm on {args.variant}'s codes, components {components}, {date.today()}, {cpu_model()}, {platform.node()}\n")
    print("| setting | tol | fit s | val log-likelihood / code |")
    print("|---|---|---|---|")
    for label, threads, tol in rows:
        seconds, val_ll = fit(emb, components, threads, tol)
        print(f"| {label} | {tol:g} | {seconds:.1f} | {val_ll:.2f} |", flush=True)


if __name__ == "__main__":
    main()
