"""download: fetch the four MNIST IDX files, verify their MD5s, write them and a manifest.

Reads params: data.source. Writes: OUT/MNIST/raw/*-ubyte (the layout torchvision reads) and OUT/manifest.json.
"""

import argparse

from autoencoders import mnist, params, runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    source = params.load(args.params).data.source
    manifest = mnist.download(source, args.out)
    print(f"MNIST served by {manifest['source']}; all four MD5s match the official ones")


if __name__ == "__main__":
    runtime.run(main)
