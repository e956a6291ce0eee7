"""Segment and measure every nucleus image: examples/segment-nuclei.rhai, in Python.

    pip install ./crates/claimsh-py scikit-image
    python examples/python/segment.py            (run the same on each node, any number of times)

It uses the Rhai script's state directory, so Python workers and `claimsh
examples/segment-nuclei.rhai` workers split the same images: each image is segmented exactly
once, by whichever worker claims it, and the summary is written once (the Rhai script's
`once("summary", ...)` and this one are the same step). Both write the same CSV columns
(scikit-image's regionprops names).
"""

import csv
import pathlib
import sys

import numpy as np
from scipy import ndimage as ndi
from skimage import color, feature, filters, io, measure, morphology, segmentation, util

import claimsh

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent
# The keys are the paths as the Rhai script's glob("../datasets/nuclei/*.tif") gives them
# (relative to its folder), so both name each image alike.
IMAGES = sorted(f"../datasets/nuclei/{p.name}" for p in (EXAMPLES / "../datasets/nuclei").glob("*.tif"))
OUT = (EXAMPLES / "../results/nuclei").resolve()
# Where `claimsh examples/segment-nuclei.rhai` keeps its claims: <script dir>/.claimsh/<stem>/.
STATE = EXAMPLES / ".claimsh" / "segment-nuclei"
COLUMNS = ["label", "area", "centroid_row", "centroid_col", "bbox_min_row", "bbox_min_col",
           "bbox_max_row", "bbox_max_col", "intensity_mean", "intensity_min", "intensity_max",
           "perimeter", "eccentricity", "axis_major_length", "axis_minor_length", "orientation",
           "solidity", "equivalent_diameter_area"]


def segment(raw):
    smooth = filters.gaussian(raw, sigma=1.0, preserve_range=True)
    # Li rather than Otsu: nuclei here differ 4x in brightness, and Otsu would split bright
    # nuclei from dim ones instead of nuclei from background.
    mask = smooth > filters.threshold_li(smooth)
    mask = morphology.binary_opening(mask, morphology.disk(1))
    mask = ndi.binary_fill_holes(mask)
    mask = morphology.remove_small_objects(mask, 30)
    # Touching nuclei are split along the darker valley between their bright middles.
    peaks = feature.peak_local_max(smooth, min_distance=3, labels=measure.label(mask))
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-smooth, markers, mask=mask)


def measure_rows(nuclei, raw):
    props = measure.regionprops(nuclei, intensity_image=raw)
    rows = []
    for p in props:
        (r0, c0, r1, c1), (cr, cc) = p.bbox, p.centroid
        rows.append([p.label, p.area, cr, cc, r0, c0, r1, c1, p.intensity_mean, p.intensity_min,
                     p.intensity_max, p.perimeter, p.eccentricity, p.axis_major_length,
                     p.axis_minor_length, p.orientation, p.solidity, p.equivalent_diameter_area])
    return rows


def write_csv(path, columns, rows):
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    tmp.replace(path)  # whole or absent: a crash never leaves half a file


def summary():
    rows = []
    for path in IMAGES:
        stem = pathlib.Path(path).stem
        with open(OUT / f"{stem}.csv") as f:
            cells = list(csv.DictReader(f))
        n = len(cells)
        area = sum(float(c["area"]) for c in cells)
        intensity = sum(float(c["intensity_mean"]) for c in cells)
        rows.append([stem, n, area / n if n else 0.0, intensity / n if n else 0.0])
    write_csv(OUT / "summary.csv", ["image", "count", "mean_area", "mean_intensity"], rows)
    print(f"summary of {len(IMAGES)} images written")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with claimsh.Ledger(STATE) as ledger:
        for path in ledger.claimed(IMAGES):
            # An exception fails this image (type, message, traceback in `claimsh status`) and
            # ends the loop; the images not started go back to the ledger.
            with ledger.item(path):
                raw = io.imread(EXAMPLES / path).astype(np.float64)
                nuclei = segment(raw)
                stem = pathlib.Path(path).stem
                write_csv(OUT / f"{stem}.csv", COLUMNS, measure_rows(nuclei, raw))
                overlay = color.label2rgb(nuclei, image=raw / max(raw.max(), 1), bg_label=0)
                io.imsave(OUT / f"{stem}_overlay.png", util.img_as_ubyte(overlay),
                          check_contrast=False)
                print(f"{stem}: {nuclei.max()} nuclei")
        # The last worker to finish writes the summary, exactly once across all nodes.
        if ledger.all_done(IMAGES):
            ledger.once("summary", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
