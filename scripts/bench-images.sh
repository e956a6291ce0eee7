#!/usr/bin/env bash
# Images/s of the nuclei pipeline: claimsh (2 workers) against scikit-image (multiprocessing,
# 2 processes) on the same 200 generated 512x512 16-bit images, side by side in one run.
#  - full: the main example (examples/segment-nuclei.rhai: blur, Li, opening, fill holes, remove
#    small, watershed by intensity, regionprops CSV, overlay PNG) against the same steps in
#    scikit-image (h_maxima markers + skimage.segmentation.watershed, mark_boundaries overlay);
#  - baseline: the pipeline of shared/notes/baselines.md (blur σ=1, Otsu, 8-connected labels,
#    regionprops, one CSV per image) in both.
# Each pair runs twice, alternating; the better of the two runs of each engine is reported.
# Needs a virtualenv with scikit-image: VENV=/path (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-target/skimage-venv}
COUNT=${COUNT:-200}
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q scikit-image; }
cargo build --release -q -p claimsh
cargo run --release -q -p claim-image --example make-nuclei -- target/bench-images/data "$COUNT" 7 >/dev/null
WORK=target/bench-images
cat > "$WORK/baseline.rhai" <<'RHAI'
for path in claimed(glob("data/*.tif")) {
    let raw = load_image(path);
    let smooth = raw.gaussian(1.0);
    let labels = smooth.threshold(otsu(smooth)).label();
    write_csv(labels.measure(raw), `rust/${stem(path)}.csv`);
    done(path);
}
RHAI
sed -e 's#../datasets/nuclei/\*.tif#data/*.tif#' -e 's#../results/nuclei#full#' examples/segment-nuclei.rhai > "$WORK/full.rhai"
cat > "$WORK/baseline.py" <<'PY'
import glob, os, sys
from multiprocessing import Pool
import numpy as np, skimage.io, skimage.filters, skimage.measure
PROPS = ("label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "perimeter", "eccentricity", "axis_major_length", "axis_minor_length", "orientation", "solidity")
def one(path):
    raw = skimage.io.imread(path)
    smooth = skimage.filters.gaussian(raw, sigma=1, preserve_range=True)
    labels = skimage.measure.label(smooth > skimage.filters.threshold_otsu(smooth), connectivity=2)
    table = skimage.measure.regionprops_table(labels, intensity_image=raw, properties=PROPS)
    keys = list(table)
    with open(os.path.join(sys.argv[2], os.path.basename(path)[:-4] + ".csv"), "w") as f:
        f.write(",".join(keys) + "\n")
        for row in zip(*(table[k] for k in keys)):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
if __name__ == "__main__":
    os.makedirs(sys.argv[2], exist_ok=True)
    with Pool(2) as pool:
        pool.map(one, sorted(glob.glob(os.path.join(sys.argv[1], "*.tif"))), chunksize=4)
PY
cat > "$WORK/full.py" <<'PY'
import glob, os, sys
from multiprocessing import Pool
import numpy as np, scipy.ndimage as ndi
import skimage.io, skimage.filters, skimage.measure, skimage.morphology, skimage.segmentation, skimage.exposure
PROPS = ("label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "perimeter", "eccentricity", "axis_major_length", "axis_minor_length", "orientation", "solidity",
         "equivalent_diameter_area")
def one(path):
    raw = skimage.io.imread(path)
    smooth = skimage.filters.gaussian(raw, sigma=1, preserve_range=True)
    mask = smooth > skimage.filters.threshold_li(smooth)
    mask = skimage.morphology.opening(mask, skimage.morphology.disk(1))
    mask = ndi.binary_fill_holes(mask)
    mask = skimage.morphology.remove_small_objects(mask, max_size=29)
    relief = np.log(np.maximum(smooth, 1)) * mask
    markers = skimage.measure.label(skimage.morphology.h_maxima(relief, 0.05) & mask)
    labels = skimage.segmentation.watershed(-relief, markers, mask=mask)
    table = skimage.measure.regionprops_table(labels, intensity_image=raw, properties=PROPS)
    keys = list(table)
    stem = os.path.basename(path)[:-4]
    with open(os.path.join(sys.argv[2], stem + ".csv"), "w") as f:
        f.write(",".join(keys) + "\n")
        for row in zip(*(table[k] for k in keys)):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    lo, hi = np.percentile(raw, (0.5, 99.5))
    shown = skimage.exposure.rescale_intensity(raw, in_range=(lo, hi), out_range=(0.0, 1.0))
    overlay = skimage.segmentation.mark_boundaries(np.dstack([shown] * 3), labels, mode="inner")
    skimage.io.imsave(os.path.join(sys.argv[2], stem + "_overlay.png"),
                      (overlay * 255).astype(np.uint8), check_contrast=False)
if __name__ == "__main__":
    os.makedirs(sys.argv[2], exist_ok=True)
    with Pool(2) as pool:
        pool.map(one, sorted(glob.glob(os.path.join(sys.argv[1], "*.tif"))), chunksize=4)
PY
cat > "$WORK/stages.py" <<'PY'
# Per-stage times of the full pipeline in scikit-image, one process, medians (ms).
import glob, os, sys, time, tempfile
import numpy as np, scipy.ndimage as ndi
import skimage.io, skimage.filters, skimage.measure, skimage.morphology, skimage.segmentation, skimage.exposure
T = {}
def lap(name, t0):
    t = time.perf_counter(); T.setdefault(name, []).append((t - t0) * 1e3); return t
out = tempfile.mkdtemp()
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.tif")))[: int(sys.argv[2])]:
    t = time.perf_counter()
    raw = skimage.io.imread(path); t = lap("load", t)
    smooth = skimage.filters.gaussian(raw, sigma=1, preserve_range=True); t = lap("gaussian", t)
    th = skimage.filters.threshold_li(smooth); t = lap("li", t)
    mask = smooth > th; t = lap("threshold", t)
    mask = skimage.morphology.opening(mask, skimage.morphology.disk(1)); t = lap("open", t)
    mask = ndi.binary_fill_holes(mask); t = lap("fill_holes", t)
    mask = skimage.morphology.remove_small_objects(mask, max_size=29); t = lap("remove_small", t)
    relief = np.log(np.maximum(smooth, 1)) * mask
    markers = skimage.measure.label(skimage.morphology.h_maxima(relief, 0.05) & mask)
    labels = skimage.segmentation.watershed(-relief, markers, mask=mask); t = lap("watershed", t)
    skimage.measure.regionprops_table(labels, intensity_image=raw, properties=(
        "label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
        "perimeter", "eccentricity", "axis_major_length", "axis_minor_length", "orientation",
        "solidity", "equivalent_diameter_area")); t = lap("measure", t)
    lo, hi = np.percentile(raw, (0.5, 99.5))
    shown = skimage.exposure.rescale_intensity(raw, in_range=(lo, hi), out_range=(0.0, 1.0))
    overlay = skimage.segmentation.mark_boundaries(np.dstack([shown] * 3), labels, mode="inner")
    skimage.io.imsave(os.path.join(out, "o.png"), (overlay * 255).astype(np.uint8), check_contrast=False)
    t = lap("overlay", t)
total = 0.0
for name, xs in T.items():
    m = sorted(xs)[len(xs) // 2]; total += m
    print(f"{name:>13} {m:7.2f} ms")
print(f"{'total':>13} {total:7.2f} ms")
PY
now() { date +%s.%N; }
# Seconds for one run of a command (outputs and claim state cleared first).
timed() {
    rm -rf "$WORK/rust" "$WORK/py" "$WORK/full" "$WORK/pyfull" "$WORK"/.claimsh
    local s; s=$(now); "$@" >/dev/null; echo "$(now) - $s" | bc -l
}
best() { printf '%s\n' "$@" | sort -g | head -1; }
py_full=(); rs_full=(); py_base=(); rs_base=()
for round in 1 2; do
    py_full+=("$(timed "$VENV/bin/python" "$WORK/full.py" "$WORK/data" "$WORK/pyfull")")
    rs_full+=("$(timed target/release/claimsh "$WORK/full.rhai" --jobs 2 -q --no-progress)")
    py_base+=("$(timed "$VENV/bin/python" "$WORK/baseline.py" "$WORK/data" "$WORK/py")")
    rs_base+=("$(timed target/release/claimsh "$WORK/baseline.rhai" --jobs 2 -q --no-progress)")
done
pf=$(best "${py_full[@]}"); rf=$(best "${rs_full[@]}"); pb=$(best "${py_base[@]}"); rb=$(best "${rs_base[@]}")
rate() { echo "$COUNT / $1" | bc -l; }
printf 'full pipeline   scikit-image, 2 processes: %6.1f images/s\n' "$(rate "$pf")"
printf 'full pipeline   claimsh example, --jobs 2: %6.1f images/s  %5.1fx scikit-image\n' "$(rate "$rf")" "$(echo "$pf / $rf" | bc -l)"
printf 'baseline        scikit-image, 2 processes: %6.1f images/s\n' "$(rate "$pb")"
printf 'baseline        claimsh, --jobs 2:         %6.1f images/s  %5.1fx scikit-image\n' "$(rate "$rb")" "$(echo "$pb / $rb" | bc -l)"
echo
echo "Where the time goes per image (one core, medians of 50 images; claimsh adds script, CSV and claims):"
cargo run --release -q -p claim-image --example stage-times -- "$WORK/data" 50 > "$WORK/stages-rust.txt"
"$VENV/bin/python" "$WORK/stages.py" "$WORK/data" 50 > "$WORK/stages-py.txt"
printf '%13s %10s %12s\n' stage claim-image scikit-image
paste "$WORK/stages-rust.txt" "$WORK/stages-py.txt" | awk '{ printf "%13s %7.2f ms %9.2f ms\n", $1, $2, $5 }'
