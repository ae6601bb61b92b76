"""split: train/val/test .npz files (uint8 images, uint8 labels, int64 index into the official file).

Reads: the raw IDX folder; params data.val_size, data.digits, seed. Writes: OUT/{train,val,test}.npz.
"""

import argparse

from autoencoders import data, io, layout, mnist, params, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    p = params.load(args.params)
    splits = mnist.make_splits(args.raw, p.data.val_size, p.seed, p.data.digits)
    with io.atomic_dir(args.out) as tmp:
        for name, arrays in splits.items():
            data.save_npz(layout.split_file(tmp, name), arrays)
    print(", ".join(f"{name}: {len(a['labels'])} images" for name, a in splits.items()))


if __name__ == "__main__":
    runtime.run(main)
