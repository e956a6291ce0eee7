"""Synthetic two-channel cells: DNA + a marker whose per-cell level is known.

    /work/venv-12/bin/python datasets/cells/make_cells.py     (numpy, scikit-image, tifffile)

Writes, next to this script, cells_NN.ome.tif (CYX, 256x256, uint16, Deflate; channels named
"dna" and "marker" in the OME-XML) and truth.csv (one row per cell). Seeded: the same files on
every run.
"""
import os

import numpy as np
import tifffile
from scipy.ndimage import gaussian_filter
from skimage.segmentation import expand_labels

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES, SIZE, SEED = 6, 256, 15
CELLS_PER_IMAGE = 22
CYTOPLASM = 6  # px the cell reaches beyond its nucleus


def place_nuclei(rng):
    """Non-touching elliptical nuclei: (row, col, semi-axes, angle)."""
    nuclei = []
    while len(nuclei) < CELLS_PER_IMAGE:
        a, b = rng.uniform(7, 11), rng.uniform(6, 9)
        r, c = rng.uniform(14, SIZE - 14, 2)
        if all(np.hypot(r - n[0], c - n[1]) > a + n[2] + 2 * CYTOPLASM for n in nuclei):
            nuclei.append((r, c, a, b, rng.uniform(0, np.pi)))
    return nuclei


def draw(nuclei):
    rr, cc = np.mgrid[:SIZE, :SIZE].astype(float)
    labels = np.zeros((SIZE, SIZE), np.uint16)
    for k, (r, c, a, b, t) in enumerate(nuclei, start=1):
        u = (rr - r) * np.cos(t) + (cc - c) * np.sin(t)
        v = -(rr - r) * np.sin(t) + (cc - c) * np.cos(t)
        labels[(u / a) ** 2 + (v / b) ** 2 <= 1] = k
    return labels


def image(rng, nuclei):
    nuclei_labels = draw(nuclei)
    cells = expand_labels(nuclei_labels, CYTOPLASM)
    dna_level = rng.uniform(2000, 4000, len(nuclei) + 1)
    marker_level = rng.uniform(300, 3000, len(nuclei) + 1)
    dna_level[0] = marker_level[0] = 0
    dna = gaussian_filter(dna_level[nuclei_labels], 1.0) + 200
    marker = gaussian_filter(marker_level[cells], 0.7) + 150
    dna += rng.normal(0, 30, dna.shape)
    marker += rng.normal(0, 40, marker.shape)
    stack = np.stack([dna, marker]).round().clip(0, 65535).astype(np.uint16)
    return stack, marker_level[1:]


def main():
    rng = np.random.default_rng(SEED)
    rows = ["image,cell,centroid_row,centroid_col,marker_level"]
    for i in range(IMAGES):
        nuclei = place_nuclei(rng)
        stack, levels = image(rng, nuclei)
        stem = f"cells_{i:02d}"
        tifffile.imwrite(os.path.join(HERE, f"{stem}.ome.tif"), stack, ome=True,
                         photometric="minisblack", compression="zlib",
                         metadata={"axes": "CYX", "Channel": {"Name": ["dna", "marker"]}})
        for k, ((r, c, *_), level) in enumerate(zip(nuclei, levels), start=1):
            rows.append(f"{stem},{k},{r:.3f},{c:.3f},{level:.3f}")
    with open(os.path.join(HERE, "truth.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
