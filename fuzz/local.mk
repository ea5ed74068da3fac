# fuzz/local.mk: the libFuzzer harness of the protocol parsers, its seed
# corpus, dictionary and reproducers, shipped in the tarball.  Included from
# the top Makefile.am after its `EXTRA_DIST =` line; it only adds to
# EXTRA_DIST.  The harness is built and run by fuzz/run (clang,
# -fsanitize=fuzzer,address,undefined), not by make: `fuzz/run 10` is CI's
# short run, `fuzz/run 3600` a long one.
EXTRA_DIST += fuzz/fuzz_protocol.c fuzz/fuzz_binary.c fuzz/fuzz.h fuzz/run \
	fuzz/protocol.dict \
	fuzz/regressions/README.md \
	fuzz/regressions/abort-usage-unknown-to-the-harness
EXTRA_DIST += \
	fuzz/corpus/add \
	fuzz/corpus/binary-bad-lengths \
	fuzz/corpus/binary-bad-magic \
	fuzz/corpus/binary-bad-names \
	fuzz/corpus/binary-cas \
	fuzz/corpus/window \
	fuzz/corpus/binary-delay-lease \
	fuzz/corpus/binary-delete-flush \
	fuzz/corpus/binary-get \
	fuzz/corpus/binary-huge-set \
	fuzz/corpus/binary-multi-get \
	fuzz/corpus/binary-not-supported \
	fuzz/corpus/binary-quitq \
	fuzz/corpus/binary-set \
	fuzz/corpus/binary-stat-version \
	fuzz/corpus/binary-then-text \
	fuzz/corpus/binary-unknown \
	fuzz/corpus/cas \
	fuzz/corpus/cr-only \
	fuzz/corpus/delete \
	fuzz/corpus/delete-bad \
	fuzz/corpus/flush \
	fuzz/corpus/flush-all \
	fuzz/corpus/gat \
	fuzz/corpus/get \
	fuzz/corpus/get-128-keys \
	fuzz/corpus/get-129-keys \
	fuzz/corpus/get-abort \
	fuzz/corpus/get-abort-delay \
	fuzz/corpus/get-bad-option \
	fuzz/corpus/get-bad-timeout \
	fuzz/corpus/get-close-open \
	fuzz/corpus/get-fanout \
	fuzz/corpus/get-lease \
	fuzz/corpus/get-no-key \
	fuzz/corpus/get-open \
	fuzz/corpus/get-peek \
	fuzz/corpus/get-timeout \
	fuzz/corpus/gets-multi \
	fuzz/corpus/high-bytes \
	fuzz/corpus/line-8192 \
	fuzz/corpus/line-too-long \
	fuzz/corpus/meta-delay \
	fuzz/corpus/meta-get \
	fuzz/corpus/meta-other \
	fuzz/corpus/meta-set \
	fuzz/corpus/nul-in-line \
	fuzz/corpus/pipeline \
	fuzz/corpus/quit \
	fuzz/corpus/set \
	fuzz/corpus/set-bad-chunk \
	fuzz/corpus/set-bad-flags \
	fuzz/corpus/set-bad-len \
	fuzz/corpus/set-bad-name \
	fuzz/corpus/set-bare-lf \
	fuzz/corpus/set-binary \
	fuzz/corpus/set-delay \
	fuzz/corpus/set-empty \
	fuzz/corpus/set-exptime \
	fuzz/corpus/set-leading-zeros \
	fuzz/corpus/set-long-name \
	fuzz/corpus/set-noreply \
	fuzz/corpus/set-over-B \
	fuzz/corpus/set-partial \
	fuzz/corpus/set-sixth-word \
	fuzz/corpus/set-too-large \
	fuzz/corpus/shutdown \
	fuzz/corpus/stats \
	fuzz/corpus/stats-groups \
	fuzz/corpus/touch-incr \
	fuzz/corpus/unknown \
	fuzz/corpus/utf8-name \
	fuzz/corpus/verbosity \
	fuzz/corpus/version \
	fuzz/corpus/whitespace
