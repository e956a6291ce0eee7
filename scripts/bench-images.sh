#!/usr/bin/env bash
# Images/s of the nuclei pipeline: claimsh (2 workers) against scikit-image (multiprocessing,
# 2 processes) on the same 200 generated 512x512 16-bit images, side by side in one run.
#  - full: the main example (examples/segment-nuclei.rhai: blur, Otsu, typical nucleus radius,
#    local threshold, fill holes, remove small, watershed by shape scaled by the radius,
#    regionprops CSV, overlay PNG, 16-bit label TIFF) against the same steps in scikit-image
#    (distance_transform_edt, uniform_filter, h_maxima markers + skimage.segmentation.watershed,
#    mark_boundaries overlay);
#  - baseline: the reference pipeline the project was first measured with (blur σ=1, Otsu,
#    8-connected labels, regionprops, one CSV per image) in both;
#  - per stage: the full pipeline's steps timed one by one (one core, medians over 50 images);
#  - large: the main example on one 4096x4096 16-bit image (64 of the generated images tiled),
#    one worker each: seconds and peak memory (maximum resident set size of the process).
# Each pair runs ROUNDS times (default 3), alternating; medians, ranges and the ratio of the
# medians are printed. Needs a virtualenv with scikit-image: VENV=/path (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-target/skimage-venv}
COUNT=${COUNT:-200}
ROUNDS=${ROUNDS:-3}
BIG_ROUNDS=${BIG_ROUNDS:-1}
source scripts/claim-harness.sh  # seconds, median
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
cp examples/segment-nuclei.rhai "$WORK/full.rhai"   # run with -- data full
cat > "$WORK/pipelines.py" <<'PY'
# The scikit-image side, one definition of each pipeline:
#   pipelines.py pool full|baseline DATA OUT   every image, multiprocessing.Pool(2)
#   pipelines.py stages DATA N                 full pipeline per stage, one process, medians (ms)
#   pipelines.py one PATH OUT                  the full pipeline on one image, in this process
#   pipelines.py tile DATA PATH                64 images of DATA tiled 8x8 into one 16-bit TIFF
import glob, os, sys, tempfile, time
from functools import partial
from multiprocessing import Pool
import numpy as np, scipy.ndimage as ndi
import skimage.io, skimage.filters, skimage.measure, skimage.morphology, skimage.segmentation, skimage.exposure
PROPS = ("label", "area", "centroid", "bbox", "intensity_mean", "intensity_min", "intensity_max",
         "perimeter", "eccentricity", "axis_major_length", "axis_minor_length", "orientation", "solidity",
         "equivalent_diameter_area")
BASELINE_PROPS = PROPS[:-1]  # the baseline measured every property but the last

def no_lap(name):
    pass

def write_csv(table, path):
    keys = list(table)
    with open(path, "w") as f:
        f.write(",".join(keys) + "\n")
        for row in zip(*(table[k] for k in keys)):
            f.write(",".join(repr(float(v)) for v in row) + "\n")

def full(path, out, lap=no_lap, csv=True):
    """The main example's steps; `lap(name)` marks the end of each stage."""
    raw = skimage.io.imread(path); lap("load")
    smooth = skimage.filters.gaussian(raw, sigma=1, preserve_range=True); lap("gaussian")
    t = skimage.filters.threshold_otsu(smooth); lap("otsu")
    first = skimage.morphology.remove_small_objects(ndi.binary_fill_holes(smooth > t), max_size=9)
    first_labels = skimage.measure.label(first, connectivity=2)
    deepest = np.asarray(ndi.maximum(ndi.distance_transform_edt(first), first_labels,
                                     np.arange(1, first_labels.max() + 1)))
    thick = deepest[deepest >= 2.5]
    deepest = thick if thick.size else deepest
    r = max(float(np.median(deepest)) if deepest.size else 0.0, 1.0); lap("radius")
    lo, k = smooth.min(), int(round(2 * r))
    mean = ndi.uniform_filter(smooth, size=2 * k + 1, mode="nearest")
    mask = (smooth > lo + 0.5 * (t - lo)) & (smooth - lo > (mean - lo) * 1.1); lap("local")
    mask = ndi.binary_fill_holes(mask); lap("fill_holes")
    mask = skimage.morphology.remove_small_objects(mask, max_size=int(0.25 * np.pi * r * r) - 1); lap("remove_small")
    dist = ndi.distance_transform_edt(mask)
    relief = skimage.filters.gaussian(dist, sigma=1) * mask
    markers = skimage.measure.label(skimage.morphology.h_maxima(relief, 0.03 * r) & (dist >= 0.3 * r))
    labels = skimage.segmentation.watershed(-relief, markers, mask=mask); lap("watershed")
    table = skimage.measure.regionprops_table(labels, intensity_image=raw, properties=PROPS); lap("measure")
    stem = os.path.basename(path)[:-4]
    if csv:
        write_csv(table, os.path.join(out, stem + ".csv"))
    lo, hi = np.percentile(raw, (0.5, 99.5))
    shown = skimage.exposure.rescale_intensity(raw, in_range=(lo, hi), out_range=(0.0, 1.0))
    overlay = skimage.segmentation.mark_boundaries(np.dstack([shown] * 3), labels, mode="inner")
    skimage.io.imsave(os.path.join(out, stem + "_overlay.png"),
                      (overlay * 255).astype(np.uint8), check_contrast=False)
    lap("overlay")
    skimage.io.imsave(os.path.join(out, stem + "_labels.tif"), labels.astype(np.uint16),
                      check_contrast=False)
    lap("labels")

def baseline(path, out):
    raw = skimage.io.imread(path)
    smooth = skimage.filters.gaussian(raw, sigma=1, preserve_range=True)
    labels = skimage.measure.label(smooth > skimage.filters.threshold_otsu(smooth), connectivity=2)
    table = skimage.measure.regionprops_table(labels, intensity_image=raw, properties=BASELINE_PROPS)
    write_csv(table, os.path.join(out, os.path.basename(path)[:-4] + ".csv"))

def images(data):
    return sorted(glob.glob(os.path.join(data, "*.tif")))

def stages(data, count):
    times, out = {}, tempfile.mkdtemp()
    for path in images(data)[:count]:
        last = [time.perf_counter()]
        def lap(name):
            now = time.perf_counter()
            times.setdefault(name, []).append((now - last[0]) * 1e3)
            last[0] = now
        full(path, out, lap, csv=False)  # claim-image's stage times have no CSV either
    total = 0.0
    for name, xs in times.items():
        median = sorted(xs)[len(xs) // 2]; total += median
        print(f"{name:>13} {median:7.2f} ms")
    print(f"{'total':>13} {total:7.2f} ms")

def tile(data, path):
    tiles = [skimage.io.imread(p) for p in images(data)[:64]]
    rows = [np.hstack(tiles[8 * r:8 * r + 8]) for r in range(8)]
    skimage.io.imsave(path, np.vstack(rows), check_contrast=False)

if __name__ == "__main__":
    if sys.argv[1] == "stages":
        stages(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "one":
        os.makedirs(sys.argv[3], exist_ok=True)
        full(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "tile":
        tile(sys.argv[2], sys.argv[3])
    else:
        kind, data, out = sys.argv[2:5]
        os.makedirs(out, exist_ok=True)
        with Pool(2) as pool:
            pool.map(partial(full if kind == "full" else baseline, out=out), images(data), chunksize=4)
PY
# Seconds for one run of a command, outputs and claim state cleared first.
timed() {
    rm -rf "$WORK/rust" "$WORK/py" "$WORK/full" "$WORK/pyfull" "$WORK"/.claimsh
    seconds "$@"
}
py_full=(); rs_full=(); py_base=(); rs_base=()
for round in $(seq "$ROUNDS"); do
    py_full+=("$(timed "$VENV/bin/python" "$WORK/pipelines.py" pool full "$WORK/data" "$WORK/pyfull")")
    rs_full+=("$(timed target/release/claimsh "$WORK/full.rhai" --jobs 2 -q --no-progress -- data full)")
    py_base+=("$(timed "$VENV/bin/python" "$WORK/pipelines.py" pool baseline "$WORK/data" "$WORK/py")")
    rs_base+=("$(timed target/release/claimsh "$WORK/baseline.rhai" --jobs 2 -q --no-progress)")
done
# "RATE (LOW–HIGH) images/s" from run seconds: the median run and the slowest/fastest.
rates() {
    local mid lo hi
    mid=$(printf '%s\n' "$@" | median)
    lo=$(printf '%s\n' "$@" | sort -g | tail -1)
    hi=$(printf '%s\n' "$@" | sort -g | head -1)
    printf '%6.1f images/s (%.1f–%.1f)' "$(echo "$COUNT / $mid" | bc -l)" \
        "$(echo "$COUNT / $lo" | bc -l)" "$(echo "$COUNT / $hi" | bc -l)"
}
ratio() {  # median seconds of the first list over the second's, lists as "a b c" strings
    local a b
    a=$(printf '%s\n' $1 | median); b=$(printf '%s\n' $2 | median)
    printf '%5.1fx scikit-image' "$(echo "$a / $b" | bc -l)"
}
echo "Medians of $ROUNDS alternated runs (range), $COUNT images of 512x512:"
printf 'full pipeline   scikit-image, 2 processes: %s\n' "$(rates "${py_full[@]}")"
printf 'full pipeline   claimsh example, --jobs 2: %s  %s\n' "$(rates "${rs_full[@]}")" \
    "$(ratio "${py_full[*]}" "${rs_full[*]}")"
printf 'baseline        scikit-image, 2 processes: %s\n' "$(rates "${py_base[@]}")"
printf 'baseline        claimsh, --jobs 2:         %s  %s\n' "$(rates "${rs_base[@]}")" \
    "$(ratio "${py_base[*]}" "${rs_base[*]}")"
echo
echo "Where the time goes per image (one core, medians of 50 images; claimsh adds script, CSV and claims):"
cargo run --release -q -p claim-image --example stage-times -- "$WORK/data" 50 > "$WORK/stages-rust.txt"
"$VENV/bin/python" "$WORK/pipelines.py" stages "$WORK/data" 50 > "$WORK/stages-py.txt"
printf '%13s %12s %12s %7s\n' stage claim-image scikit-image faster
paste "$WORK/stages-rust.txt" "$WORK/stages-py.txt" |
    awk '{ printf "%13s %9.2f ms %9.2f ms %6.1fx\n", $1, $2, $5, $5 / ($2 > 0 ? $2 : 0.001) }'
echo
# One large image, one worker each: seconds and the process's peak resident memory.
BIG=$WORK/big
mkdir -p "$BIG/in"
[ -f "$BIG/in/big.tif" ] || "$VENV/bin/python" "$WORK/pipelines.py" tile "$WORK/data" "$BIG/in/big.tif"
cp examples/segment-nuclei.rhai "$BIG/segment.rhai"
# "SECONDS KILOBYTES" of one run under /usr/bin/time.
measured() {
    rm -rf "$BIG/out" "$BIG/pyout" "$BIG/.claimsh"
    local s e kb
    s=$(date +%s.%N)
    kb=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1)
    e=$(date +%s.%N)
    echo "$(echo "$e - $s" | bc -l) $kb"
}
rs_big=(); py_big=()
for round in $(seq "$BIG_ROUNDS"); do
    rs_big+=("$(measured target/release/claimsh "$BIG/segment.rhai" --jobs 1 -q --no-progress -- in out)")
    py_big+=("$(measured "$VENV/bin/python" "$WORK/pipelines.py" one "$BIG/in/big.tif" "$BIG/pyout")")
done
image_mib=$(echo "$(stat -c %s "$BIG/in/big.tif") / 1048576" | bc -l)
big() {  # "seconds, peak MiB (k x image)" medians over the runs
    local s kb
    s=$(printf '%s\n' "$@" | cut -d' ' -f1 | median)
    kb=$(printf '%s\n' "$@" | cut -d' ' -f2 | median)
    printf '%6.1f s, peak RSS %5.0f MiB (%4.1fx the image)' "$s" "$(echo "$kb / 1024" | bc -l)" \
        "$(echo "$kb / 1024 / $image_mib" | bc -l)"
}
printf 'One 4096x4096 16-bit image (%.0f MiB), one worker, median of %s run(s):\n' "$image_mib" "$BIG_ROUNDS"
printf 'large image     claimsh example, --jobs 1: %s\n' "$(big "${rs_big[@]}")"
printf 'large image     scikit-image, 1 process:   %s\n' "$(big "${py_big[@]}")"
