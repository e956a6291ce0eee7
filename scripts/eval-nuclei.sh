#!/usr/bin/env bash
# Mean per-image F1 (IoU 0.5, the DSB2018 rule) of the main example over a folder of images with
# a truth/ folder of label images beside them:
#
#   scripts/eval-nuclei.sh [IN_DIR [OUT_DIR]]
#
# IN_DIR defaults to ../shared/datasets/dsb2018-dev (160 real fluorescence images, truth/<id>.tif);
# datasets/nuclei works too (truth/<stem>_labels.png). Runs examples/segment-nuclei.rhai on every
# core (outputs in OUT_DIR, default target/eval-nuclei/<folder name>), scores each image with
# scripts/score-nuclei.rhai (OUT_DIR/scores.csv) and prints the mean and pooled F1.
# CLAIMSH=path/to/claimsh to use a given binary (default: a release build of this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
IN=$(realpath "${1:-../shared/datasets/dsb2018-dev}")
[ -d "$IN/truth" ] || { echo "$IN: no truth/ folder of label images beside the images" >&2; exit 2; }
OUT=$(realpath -m "${2:-target/eval-nuclei/$(basename "$IN")}")
if [ -z "${CLAIMSH:-}" ]; then
    cargo build --release -q -p claimsh
    CLAIMSH=target/release/claimsh
fi
rm -rf "$OUT" examples/.claimsh/segment-nuclei scripts/.claimsh/score-nuclei
start=$(date +%s.%N)
"$CLAIMSH" examples/segment-nuclei.rhai -q --no-progress -- "$IN" "$OUT"
seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
"$CLAIMSH" scripts/score-nuclei.rhai --jobs 1 -q --no-progress -- "$IN" "$OUT"
rm -rf examples/.claimsh/segment-nuclei scripts/.claimsh/score-nuclei
awk -F, -v s="$seconds" 'NR > 1 { n++; f += $7; tp += $2; fp += $3; fn += $4 }
    END {
        printf "%d images in %.1f s: mean F1 %.4f, pooled F1 %.4f (tp %d, fp %d, fn %d)\n",
            n, s, f / n, 2 * tp / (2 * tp + fp + fn), tp, fp, fn
    }' "$OUT/scores.csv"
echo "per image: $OUT/scores.csv; outlines: $OUT/<stem>_overlay.png"
