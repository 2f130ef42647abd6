#!/usr/bin/env bash
# Writes docs/man/charrnn.1 from the CLI's own help (swift-argument-parser's generate-manual plugin,
# which builds the tool in debug mode first: a few minutes the first time). Run it after changing an
# option; a test fails while the committed page lacks one.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
swift package generate-manual --date "$(date +%F)" --authors "the charrnn authors"
mkdir -p docs/man
cp .build/plugins/GenerateManual/outputs/charrnn/charrnn.1 docs/man/charrnn.1
echo "docs/man/charrnn.1 written; read it with: man -l docs/man/charrnn.1"
