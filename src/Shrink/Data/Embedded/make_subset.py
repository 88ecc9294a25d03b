#!/usr/bin/python3
"""Writes the balanced Fashion-MNIST subset embedded in Shrink.

600 train and 100 test images per class, drawn at random with seed 0 and kept in
their original order, written as gzip'd IDX files (mtime=0, so byte-reproducible).

Usage: /usr/bin/python3 make_subset.py [SOURCE_DIR]
SOURCE_DIR defaults to Debian's /usr/share/datasets/fashion-mnist.
"""
import gzip
import os
import struct
import sys

import numpy as np

SOURCE = "/usr/share/datasets/fashion-mnist"
OUT = os.path.dirname(os.path.abspath(__file__))
PER_CLASS = {"train": 600, "t10k": 100}
CLASSES = 10


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return magic, arr.reshape(dims)


def write_idx(path, magic, arr):
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header + arr.tobytes())


def pick(labels, per_class, rng):
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(CLASSES)]
    return np.sort(np.concatenate(chosen))


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    rng = np.random.default_rng(0)
    for split, per_class in PER_CLASS.items():
        images_name = f"{split}-images-idx3-ubyte.gz"
        labels_name = f"{split}-labels-idx1-ubyte.gz"
        img_magic, images = read_idx(os.path.join(source, images_name))
        lbl_magic, labels = read_idx(os.path.join(source, labels_name))
        keep = pick(labels, per_class, rng)
        write_idx(os.path.join(OUT, images_name), img_magic, images[keep])
        write_idx(os.path.join(OUT, labels_name), lbl_magic, labels[keep])
        print(f"{split}: {len(keep)} of {len(labels)} samples")


if __name__ == "__main__":
    main()
