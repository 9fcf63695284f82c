#!/usr/bin/env bash
# Regenerate every voice prompt from manifest.json with espeak-ng + sox.
#
# Output: prompts/<lang>/<sound>.wav - 8 kHz, mono, 16-bit signed PCM WAV, the format
# Asterisk plays without transcoding CPU ("wav" format, format_wav.so).
#
# The texts live only in manifest.json ({"<sound>": {"<lang>": "text", ...}, ...}); edit them
# there and run this script again. Needs: bash, python3, espeak-ng, sox
# (Debian/Ubuntu: apt-get install -y espeak-ng sox).
#
# Usage: prompts/generate.sh                  # every sound, every language
#        prompts/generate.sh survey-rate      # only the named sound(s)
# Environment:
#   ESPEAK_SPEED   words per minute (default 150; espeak's own default 175 is fast on a phone)
#   VOICE_<lang>   espeak-ng voice for a language, e.g. VOICE_en=en-us (default: the code itself)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/manifest.json"
speed="${ESPEAK_SPEED:-150}"

for tool in python3 espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "generate.sh: '$tool' not found (apt-get install -y espeak-ng sox)" >&2
        exit 1
    fi
done

tmpdir="$(mktemp -d)"
trap 'rm -rf "$tmpdir"' EXIT

# One line per prompt: <sound> TAB <lang> TAB <text>, read from the manifest (the single
# source of truth for the texts). Fails on a malformed manifest.
python3 - "$manifest" "$@" >"$tmpdir/list" <<'PY'
import json
import re
import sys

path, only = sys.argv[1], set(sys.argv[2:])
with open(path, encoding="utf-8") as f:
    manifest = json.load(f)
unknown = only - manifest.keys()
if unknown:
    sys.exit(f"generate.sh: not in manifest.json: {', '.join(sorted(unknown))}")
for sound, texts in manifest.items():
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", sound):
        sys.exit(f"generate.sh: bad sound name {sound!r} (use a-z, 0-9, - and _)")
    if only and sound not in only:
        continue
    for lang, text in texts.items():
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", lang):
            sys.exit(f"generate.sh: bad language code {lang!r} for {sound}")
        text = " ".join(text.split())
        if not text:
            sys.exit(f"generate.sh: empty text for {sound}/{lang}")
        print(f"{sound}\t{lang}\t{text}")
PY

count=0
while IFS=$'\t' read -r sound lang text; do
    voice_var="VOICE_${lang}"
    voice="${!voice_var:-$lang}"
    mkdir -p "$here/$lang"
    out="$here/$lang/$sound.wav"
    # espeak-ng writes 22050 Hz mono. sox: resample to 8 kHz 16-bit mono, trim espeak's
    # leading/trailing silence (so the caller can answer sooner), normalise to -3 dBFS and keep
    # 50 ms / 150 ms of silence around the speech. -D (no dither) keeps the output
    # byte-identical between runs, so unchanged prompts do not show up as changed files.
    espeak-ng -v "$voice" -s "$speed" -w "$tmpdir/raw.wav" -- "$text"
    sox -D "$tmpdir/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmpdir/out.wav" \
        silence 1 0.02 -50d reverse silence 1 0.02 -50d reverse norm -3 pad 0.05 0.15
    mv "$tmpdir/out.wav" "$out"
    printf '%-6s %-24s %s\n' "$lang" "$sound" "$(soxi -D "$out")s"
    count=$((count + 1))
done <"$tmpdir/list"

echo "generated $count prompt(s)"

# Warn about recordings that no longer have a manifest entry (they are not deleted: a
# studio recording may have been dropped in by hand - add it to the manifest or remove it).
python3 - "$manifest" "$here" <<'PY'
import json
import pathlib
import sys

manifest = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
for wav in sorted(pathlib.Path(sys.argv[2]).glob("*/*.wav")):
    lang = wav.parent.name
    if lang not in manifest.get(wav.stem, {}):
        print(f"warning: {wav.relative_to(sys.argv[2])} has no entry in manifest.json", file=sys.stderr)
PY
