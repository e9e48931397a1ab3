#!/bin/sh
# CLI contract for quantize / export / bench: the JSON keys later checks rely on, real
# files written, and one-line errors. Usage: quantize_contract.sh path/to/qatlab-cli
set -eu
CLI="$1"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

"$CLI" quantize mnist-cnn --dataset fashion-mnist-sample --preset int8 --mode qat --float-epochs 1 \
    --epochs 1 --save "$DIR/q.qatm" --export "$DIR/q.tflite" --json > "$DIR/out.txt" 2> "$DIR/err.txt"
tail -n 1 "$DIR/out.txt" > "$DIR/q.json"
/usr/bin/python3 - "$DIR/q.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
need = ["float_accuracy", "quantized_accuracy", "integer_accuracy", "fakequant_accuracy", "mode",
        "plan", "train_images_per_second", "float_tflite_bytes", "int8_tflite_bytes", "latency_ms"]
missing = [k for k in need if k not in j]
assert not missing, f"missing keys {missing}"
assert j["mode"] == "qat"
assert 0.0 <= j["integer_accuracy"] <= 1.0 and 0.0 <= j["fakequant_accuracy"] <= 1.0
assert abs(j["integer_accuracy"] - j["fakequant_accuracy"]) <= 0.05, j
assert 0 < j["int8_tflite_bytes"] < j["float_tflite_bytes"]
lat = j["latency_ms"]
for k in ("float", "int8"):
    assert lat[k]["batch1"] > 0 and lat[k]["batch64"] > 0, lat
assert isinstance(lat["stable"], bool), lat
assert "conv1" in j["plan"]["layers"]
print("quantize JSON ok:", j["integer_accuracy"], j["int8_tflite_bytes"])
PY
test -s "$DIR/q.tflite"
head -c 8 "$DIR/q.tflite" | tail -c 4 | grep -q TFL3

# export of the saved quantized model reproduces the same file size
"$CLI" export "$DIR/q.qatm" --out "$DIR/e.tflite" --json | tail -n 1 > "$DIR/e.json"
/usr/bin/python3 -c "import json,sys,os; j=json.load(open('$DIR/e.json')); assert j['quantized'] and j['bytes']==os.path.getsize('$DIR/e.tflite')==os.path.getsize('$DIR/q.tflite'), j"

# bench prints both latencies
"$CLI" bench "$DIR/q.qatm" --repeats 3 --json | tail -n 1 | grep -q '"int8"'

# errors: one line, exit 1; usage errors exit 2
if "$CLI" quantize /nonexistent.qatm --dataset fashion-mnist-sample --preset int8 2> "$DIR/e1"; then exit 1; fi
test "$(wc -l < "$DIR/e1")" -eq 1
set +e
"$CLI" quantize mnist-cnn --dataset fashion-mnist-sample --preset int9 2>/dev/null
test $? -eq 2 || exit 1
set -e
echo "quantize/export/bench contract ok"
