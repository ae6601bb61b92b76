"""embed@V: encode every image of train, val and test with a trained variant (the VAE gives its mean).

Reads: the checkpoint, SPLIT/*.npz. Writes: a parquet file, one row per image:
split, index (into the official file), label, z0..z(d-1).
"""
import argparse
from pathlib import Path

import pandas as pd

from autoencoders import data, io, latent, layout, models


def embed_splits(model, split_dir: Path) -> pd.DataFrame:
    frames = []
    for split in layout.SPLITS:
        arrays = data.load_npz(layout.split_file(split_dir, split))
        codes = latent.embed(model, data.images_tensor(arrays["images"]), desc=f"embed {split}")
        frames.append(latent.embeddings_frame(split, codes, arrays["labels"], arrays["index"]))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    frame = embed_splits(models.load_checkpoint(args.model), args.split)
    with io.atomic_path(args.out) as tmp:
        frame.to_parquet(tmp, index=False)
    print(f"{args.out}: {len(frame)} rows, {frame.shape[1] - 3} latent dimensions")


if __name__ == "__main__":
    main()
