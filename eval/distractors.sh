#!/usr/bin/env bash
# Retrieval with distractors: the shipped corpus plus the 120 Ofsted reports on other councils
# in ../shared/ofsted-sample (same phrases, other places), indexed together, then the eval.
# Usage: eval/distractors.sh [WORKDIR] [extra rag-qa eval options]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/rag-qa-distractors}
shift || true
sample=../shared/ofsted-sample
[ -d "$sample" ] || { echo "no $sample: nothing to add as distractors" >&2; exit 2; }
mkdir -p "$work/corpus"
cp -p corpus/* "$work/corpus/"
rm -rf "$work/corpus/ofsted-sample"
cp -rp "$sample" "$work/corpus/ofsted-sample"
chmod -R u+w "$work/corpus"
export HF_HUB_OFFLINE=1
.venv/bin/rag-qa index --corpus "$work/corpus" --index "$work/index"
.venv/bin/rag-qa eval --corpus "$work/corpus" --index "$work/index" --out eval/results/distractors "$@"
