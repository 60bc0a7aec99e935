"""Make the small arrays the shipped configs read (kilobytes, not megabytes).

    python sample_data/make_samples.py

- ``images.h5``: dataset ``images``, 6 RGB images of 8x8 as uint8 (NHWC,
  shape (6, 8, 8, 3)): smooth colour gradients with a bright square, so a
  3x3 filter has edges to find; dataset ``labels`` (6,) int64, which no config
  uses (it shows that a config names the dataset it reads).
- ``weights.npz``: key ``W1``, conv weights (3, 3, 3, 4) float64, and key
  ``W_unused`` (2, 2, 4, 2), to show that a config names the key it reads.
- ``b1.npy``: the bias (4,) float64 for ``W1``.

Deterministic: the same bytes on every run (RandomState(2024); h5py is asked
not to write timestamps).
"""

from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.RandomState(2024)
    m, n = 6, 8
    rows, cols = np.mgrid[0:n, 0:n]
    images = np.empty((m, n, n, 3), dtype=np.uint8)
    for i in range(m):
        base = np.stack([rows * 30 + 10 * i, cols * 30, (rows + cols) * 15], axis=-1)
        top, left = rng.randint(0, n - 3, size=2)
        base[top:top + 3, left:left + 3, :] = 250
        noise = rng.randint(0, 8, size=base.shape)
        images[i] = np.clip(base + noise, 0, 255)
    labels = np.arange(m, dtype=np.int64) % 2

    W1 = rng.randn(3, 3, 3, 4) * 0.5
    W_unused = rng.randn(2, 2, 4, 2)
    b1 = rng.randn(4) * 0.1

    with h5py.File(HERE / "images.h5", "w", track_order=False) as f:
        for name, data in (("images", images), ("labels", labels)):
            f.create_dataset(name, data=data, track_times=False)
    np.savez(HERE / "weights.npz", W1=W1, W_unused=W_unused)
    np.save(HERE / "b1.npy", b1)
    for p in sorted(HERE.glob("*.[nh]*[5yz]")):
        print(f"{p.name}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
