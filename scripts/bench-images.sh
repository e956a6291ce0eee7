#!/usr/bin/env bash
# Images/s of the nuclei pipeline: claimsh (2 workers) against scikit-image (multiprocessing,
# 2 processes) on the same 200 generated 512x512 16-bit images, side by side in one run.
# Both run the baseline pipeline of shared/notes/baselines.md: Gaussian σ=1 → Otsu → 8-connected
# labels → regionprops → one CSV per image. claimsh's full example (with clean-up, watershed and
# overlays) is timed too. Needs a virtualenv with scikit-image: VENV=/path (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-target/skimage-venv}
COUNT=${COUNT:-200}
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q scikit-image; }
cargo build --release -q -p claimsh
cargo run --release -q -p claim-image --example make-nuclei -- target/bench-images/data "$COUNT" 7 >/dev/null
WORK=target/bench-images
rm -rf "$WORK/rust" "$WORK/py" "$WORK/full" "$WORK"/.claimsh
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
now() { date +%s.%N; }
s=$(now); "$VENV/bin/python" "$WORK/baseline.py" "$WORK/data" "$WORK/py"; py=$(echo "$(now) - $s" | bc -l)
s=$(now); target/release/claimsh "$WORK/baseline.rhai" --jobs 2 -q --no-progress; rs=$(echo "$(now) - $s" | bc -l)
s=$(now); target/release/claimsh "$WORK/full.rhai" --jobs 2 -q --no-progress; full=$(echo "$(now) - $s" | bc -l)
printf 'scikit-image, 2 processes:        %6.1f images/s\n' "$(echo "$COUNT / $py" | bc -l)"
printf 'claimsh baseline, --jobs 2:       %6.1f images/s  %5.1fx scikit-image\n' "$(echo "$COUNT / $rs" | bc -l)" "$(echo "$py / $rs" | bc -l)"
printf 'claimsh full example, --jobs 2:   %6.1f images/s  (clean-up, watershed, overlay PNG)\n' "$(echo "$COUNT / $full" | bc -l)"
