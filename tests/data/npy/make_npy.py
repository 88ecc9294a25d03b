#!/usr/bin/python3
"""Writes the tiny .npy fixtures read by tests/Shrink.Tests/Data/NpyFileTests.cs.

Usage: /usr/bin/python3 make_npy.py   (writes next to this script; deterministic)
"""
import os

import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(OUT, name)


def write_version(name, array, version):
    with open(path(name), "wb") as f:
        np.lib.format.write_array(f, array, version=version)


def main():
    np.save(path("f32_2x3.npy"), np.array([[1.5, -2, 3], [4, 5.25, -6]], dtype=np.float32))
    np.save(path("i64_1d.npy"), np.array([7, -1, 2**40, 0], dtype=np.int64))
    np.save(path("f64_2x2.npy"), np.array([[0.1, 0.2], [0.3, 1e300]], dtype=np.float64))
    np.save(path("f16_3.npy"), np.array([0.5, -1, 65504], dtype=np.float16))
    np.save(path("u8_0d.npy"), np.array(200, dtype=np.uint8))
    np.save(path("bool_2.npy"), np.array([True, False]))
    write_version("f32_v2.npy", np.arange(6, dtype=np.float32).reshape(1, 2, 3), (2, 0))
    write_version("i32_v3.npy", np.array([-3, 4], dtype=np.int32), (3, 0))
    # Files Shrink must reject.
    np.save(path("bad_bigendian.npy"), np.array([1, 2], dtype=">f4"))
    np.save(path("bad_fortran.npy"), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
    np.save(path("bad_object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


if __name__ == "__main__":
    main()
