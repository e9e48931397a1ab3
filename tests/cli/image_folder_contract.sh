#!/bin/sh
# CLI contract for image-folder datasets: a generated folder of PNGs (5 classes, no split)
# trains a zoo model with --json, the zoo model gets 5 outputs, and a broken image is a
# one-line error naming the file. Usage: image_folder_contract.sh path/to/qatlab-cli
set -eu
CLI="$1"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

# 5 classes x 24 RGB PNGs of 12x12, written with the Python standard library only.
/usr/bin/python3 - "$DIR/shapes" <<'PY'
import os, struct, sys, zlib
root = sys.argv[1]
def png(path, w, h, rgb):
    raw = b"".join(b"\0" + bytes(rgb[y * w * 3:(y + 1) * w * 3]) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open(path, "wb").write(data)
for c, name in enumerate(["circle", "cross", "dot", "line", "square"]):
    os.makedirs(os.path.join(root, name))
    for i in range(24):
        px = [(c * 50 + x * 7 + y * 3 + i + k * 40) % 256 for y in range(12) for x in range(12) for k in range(3)]
        png(os.path.join(root, name, "%02d.png" % i), 12, 12, px)
PY

"$CLI" train cnn-bn --dataset "$DIR/shapes" --epochs 1 --json > "$DIR/out.json" 2> "$DIR/err.txt"
/usr/bin/python3 - "$DIR/out.json" "$DIR/err.txt" <<'PY'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert 0.0 <= j["test_accuracy"] <= 1.0, j
err = open(sys.argv[2]).read()
assert "image folder" in err and "5 classes" in err and "12x12x3" in err, err
print("image folder train JSON ok:", j["test_accuracy"])
PY

# The zoo model was fitted to 5 classes: the saved model has 5 outputs.
"$CLI" train mnist-cnn --dataset "$DIR/shapes" --limit-train 32 --save "$DIR/m.qatm" >/dev/null
"$CLI" info "$DIR/m.qatm" | grep -q "\[5\]"

# A corrupt image: exit 1, one line naming the file.
printf 'not a png' > "$DIR/shapes/dot/99.png"
set +e
"$CLI" train cnn-bn --dataset "$DIR/shapes" --epochs 1 2> "$DIR/e1" >/dev/null
rc=$?
set -e
test $rc -eq 1
test "$(wc -l < "$DIR/e1")" -eq 1
grep -q "dot/99.png" "$DIR/e1"
echo "image folder contract ok"
