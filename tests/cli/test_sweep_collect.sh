#!/bin/sh
# eahas collect and eahas table: truncated, corrupted, foreign and NaN-bearing records are rejected
# with a reason per file while the good ones are collected; collecting twice changes nothing;
# table get returns exactly the record that was collected; table stats counts it all.
set -eu
fail_fast=1
. "$(dirname "$0")/lib.sh"
export EAHAS_LOCK_DIR="$T/locks"
FAKE="sh $(pwd)/tests/sweep/fake_trainer.sh"

"$B" sweep plan --preset fashion-mnist -n 5 --seed 3 -o "$T/plan.jsonl" >/dev/null
"$B" sweep run "$T/plan.jsonl" --out "$T/s" --epochs 4 --trainer "$FAKE" >/dev/null 2>&1 || fail "sweep"
ID0=$(head -1 "$T/plan.jsonl" | cut -c8-23)
R0="$T/s/records/$ID0.json"

# --- empty names: refused, and nothing written at the filesystem root
st=0
"$B" collect "$T/s" -o '' 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "collect -o '': exit $st"
has "collect: -o needs a name, got an empty string" err
st=0
"$B" sweep run "$T/plan.jsonl" --out '' --epochs 4 --trainer "$FAKE" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "sweep run --out '': exit $st"
has "sweep: --out needs a name, got an empty string" err

# --- bad records beside good ones
mkdir "$T/bad"
head -c 400 "$R0" > "$T/bad/truncated.json"
sed 's/"curves":/"cXrves":/' "$R0" > "$T/bad/corrupted.json"
printf '\000\377\376garbage' > "$T/bad/binary.json"
sed 's/"schema_version":	1/"schema_version":	2/' "$R0" > "$T/bad/version2.json"
echo '{"model": "resnet18", "accuracy": 93.1}' > "$T/bad/foreign.json"
sed "s/\"id\":	\"$ID0\"/\"id\":	\"0123456789abcdef\"/" "$R0" > "$T/bad/foreign_id.json"
sed 's/"test_acc":	\[\([0-9.]*\), /"test_acc":	[\1, NaN, /' "$R0" > "$T/bad/nan_literal.json"
sed 's/"test_acc":	\[\([0-9.]*\), [0-9.]*/"test_acc":	[\1, null/' "$R0" > "$T/bad/nan_null.json"
sed 's/"tec":	"kWh"/"tec":	"Wh"/' "$R0" > "$T/bad/units.json"
sed 's/"val_acc":	\[\([0-9.]*\), /"val_acc":	[/' "$R0" > "$T/bad/short_curve.json"
cp "$R0" "$T/bad/0000000000000000.json"          # a renamed copy: the name says another id
cp "$R0" "$T/bad/copy.json"                      # a plain copy: a duplicate, not an error
grep -q NaN "$T/bad/nan_literal.json" && grep -q null "$T/bad/nan_null.json" || fail "fixture edits did not apply"

st=0
"$B" collect "$T/s" "$T/bad" -o "$T/b.eahas" >"$T/out" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "collect with rejections: exit $st"
grep -q "17 record files: 5 added to $T/b.eahas, 0 already there, 1 duplicates, 11 rejected" "$T/out" ||
  fail "summary: $(cat "$T/out")"
reason() { grep -qF "rejected $T/bad/$1: $2" "$T/err" || fail "$1: expected \"$2\" in: $(grep "/$1" "$T/err")"; }
reason truncated.json "not valid JSON (truncated or corrupted)"
reason corrupted.json 'missing field "curves"'
reason binary.json "not valid JSON (truncated or corrupted)"
reason version2.json "schema_version=2, this eahas reads version 1"
reason foreign.json 'missing field "schema_version"'
reason foreign_id.json 'id="0123456789abcdef" does not match preset and config'
reason nan_literal.json "not valid JSON (truncated or corrupted)"
reason nan_null.json "curves.test_acc[1] is not a number"
reason units.json 'field "units.tec"="Wh", expected "kWh"'
reason short_curve.json "curves.val_acc has 3 entries, epochs_trained is 4"
reason 0000000000000000.json "the file name says id 0000000000000000 but the record's id is $ID0"

# --- collecting twice changes nothing: not a byte of the file
sum=$(cksum < "$T/b.eahas")
"$B" collect "$T/s" -o "$T/b.eahas" --json > "$T/out" || fail "second collect"
grep -q '"files":5,"valid":5,"rejected":0,"duplicates":0,"added":0,"already_present":5' "$T/out" ||
  fail "second collect: $(cat "$T/out")"
[ "$(cksum < "$T/b.eahas")" = "$sum" ] || fail "collecting twice changed the file"

# --- another preset cannot be mixed in
"$B" sweep plan --preset cifar10 -n 1 --seed 1 -o "$T/c10.jsonl" >/dev/null
"$B" sweep run "$T/c10.jsonl" --out "$T/c10" --epochs 2 --trainer "$FAKE" >/dev/null 2>&1 || fail "cifar10 sweep"
st=0; "$B" collect "$T/c10" -o "$T/b.eahas" 2>"$T/err" >/dev/null || st=$?
[ "$st" -eq 1 ] && grep -q "preset cifar10, but $T/b.eahas holds runs of preset fashion-mnist" "$T/err" ||
  fail "mixed presets: $st $(cat "$T/err")"

# --- table get: exactly the collected record, by config text, JSON config or id
CFG=$(grep -o '"config":{[^}]*}' "$T/plan.jsonl" | head -1 | cut -c10-)
"$B" table get "$T/b.eahas" "$CFG" --json > "$T/got.json" || fail "table get by JSON config"
[ "$(cat "$T/got.json")" = "$(cat "$R0")" ] || { diff "$T/got.json" "$R0" >&2; fail "table get differs from the record"; }
"$B" table get "$T/b.eahas" "$ID0" --json | cmp -s - "$T/got.json" || fail "table get by id"
"$B" table get "$T/b.eahas" "$CFG" > "$T/got.txt" || fail "table get (text)"
grep -q "^run $ID0  preset fashion-mnist  status ok" "$T/got.txt" || fail "text: $(head -1 "$T/got.txt")"
[ "$(grep -c '^ *[1-4] ' "$T/got.txt")" -eq 4 ] || fail "text: not 4 epoch rows"
TXT=$("$B" sweep plan --preset fashion-mnist -n 1 --seed 999 -o "$T/one.jsonl" >/dev/null &&
      grep -o '"config":{[^}]*}' "$T/one.jsonl" | cut -c10-)
grep -qF "$TXT" "$T/plan.jsonl" && fail "the unrecorded config is in the plan"
st=0; "$B" table get "$T/b.eahas" "$TXT" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "not recorded: .* is not in $T/b.eahas (preset fashion-mnist)" "$T/err" ||
  fail "unrecorded config: $st $(cat "$T/err")"
st=0; "$B" table get "$T/b.eahas" "d=99" 2>/dev/null || st=$?
[ "$st" -eq 1 ] || fail "bad config text: $st"
st=0; "$B" table get "$T/b.eahas" "$CFG" --preset bogus 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "preset 'bogus' is unknown" "$T/err" || fail "unknown --preset: $st $(cat "$T/err")"
st=0; "$B" table get "$T/b.eahas" "$CFG" --preset 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "\-\-preset needs a value" "$T/err" || fail "--preset without value: $st $(cat "$T/err")"
# strings from a file reach the terminal without their control bytes, and JSON escapes the file name
mkdir "$T/esc"
sed 's/"machine":[^,]*,/"machine": "evil\\u001b[2J\\u0007",/' "$R0" >"$T/esc/r.json"
"$B" collect "$T/esc" -o "$T/esc/q\"x.eahas" >/dev/null 2>"$T/err" || fail "collect of an escaped machine: $(cat "$T/err")"
"$B" table get "$T/esc/q\"x.eahas" "$ID0" >"$T/got.txt" || fail "table get (escapes)"
grep -q '^from    evil?\[2J?, ' "$T/got.txt" && ! grep -q "$(printf '\033')" "$T/got.txt" ||
  fail "control bytes printed raw: $(grep '^from' "$T/got.txt" | od -c | head -3)"
"$B" table stats "$T/esc/q\"x.eahas" --json | grep -qF "{\"file\":\"$T/esc/q\\\"x.eahas\"," ||
  fail "stats --json file name: $("$B" table stats "$T/esc/q\"x.eahas" --json | head -c 200)"
"$B" sweep plan --preset fashion-mnist -n 1 --seed 1 -o "$T/esc/p\"q.jsonl" --json | grep -qF "{\"plan\":\"$T/esc/p\\\"q.jsonl\"," ||
  fail "sweep plan --json file name: $("$B" sweep plan --preset fashion-mnist -n 1 --seed 1 -o "$T/esc/p\"q.jsonl" --json)"
# a FIFO or a device named like a record is rejected, not read (a FIFO blocked collect forever)
mkdir "$T/odd"; mkfifo "$T/odd/fifo.json"; ln -s /dev/zero "$T/odd/zero.json"; cp "$R0" "$T/odd/"
st=0; timeout 20 "$B" collect "$T/odd" -o "$T/odd.eahas" >"$T/out" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "rejected $T/odd/fifo.json: not a regular file" "$T/err" &&
  grep -q "rejected $T/odd/zero.json: not a regular file" "$T/err" && grep -q "3 record files: 1 added" "$T/out" ||
  fail "collect of a FIFO and a device: $st $(cat "$T/out" "$T/err")"
st=0; "$B" collect "$T/no-such-dir" -o "$T/c.eahas" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "no-such-dir: does not exist" "$T/err" || fail "collect of a missing path: $st $(cat "$T/err")"
st=0; "$B" table stats "$T/nonexistent.eahas" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "nonexistent.eahas does not exist" "$T/err" || fail "missing file: $st $(cat "$T/err")"

# --- table stats
"$B" table stats "$T/b.eahas" --json > "$T/stats.json" || fail "stats"
grep -q '"preset":"fashion-mnist","configs":5,"runs":5,"ok":5,"diverged":0,"failed":0,"curve_rows":20' "$T/stats.json" ||
  fail "stats: $(cat "$T/stats.json")"
grep -q '"epochs_trained":{"n":5,"min":4,"mean":4,"max":4}' "$T/stats.json" || fail "stats epochs"
"$B" table stats "$T/b.eahas" | grep -q "5 configs, 5 runs (5 ok, 0 diverged, 0 failed), 20 curve rows" || fail "stats text"

# --- files that are not benchmark files of this version
echo "hello" > "$T/text.eahas"
st=0; "$B" table stats "$T/text.eahas" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "text file: $st $(cat "$T/err")"
st=0; "$B" table stats "$T/missing.eahas" 2>"$T/err" || st=$?
[ "$st" -ne 0 ] && grep -q "missing.eahas" "$T/err" || fail "missing file"
if /usr/bin/python3 -c "import sqlite3" 2>/dev/null; then
  cp "$T/b.eahas" "$T/v2.eahas"
  /usr/bin/python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA user_version=2'); c.commit()" "$T/v2.eahas"
  st=0; "$B" table stats "$T/v2.eahas" 2>"$T/err" || st=$?
  [ "$st" -eq 1 ] && grep -q "has benchmark schema version 2; this eahas .* reads version 1 only" "$T/err" ||
    fail "schema version 2: $st $(cat "$T/err")"
  st=0; "$B" collect "$T/s" -o "$T/v2.eahas" 2>"$T/err" >/dev/null || st=$?
  [ "$st" -eq 1 ] && grep -q "has benchmark schema version 2" "$T/err" || fail "collect into version 2"
fi
"$B" collect --help | grep -q "usage: eahas collect" || fail "collect help"
"$B" table --help | grep -q "usage: eahas table stats" || fail "table help"
st=0; "$B" table bogus "$T/b.eahas" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] || fail "table bogus: exit $st"
has "table: 'bogus' is not a subcommand (stats, get)" err
echo "ok"
