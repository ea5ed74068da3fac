# bench/local.mk: the load generator and the comparison with peers.
# Included from the top Makefile.am, after noinst_PROGRAMS and EXTRA_DIST.
# mqbench is plain C and libc (one epoll loop): it links nothing of mqd.

noinst_PROGRAMS += bench/mqbench
bench_mqbench_SOURCES = bench/mqbench.c
bench_mqbench_CPPFLAGS =
bench_mqbench_CFLAGS = $(AM_CFLAGS) -pthread
bench_mqbench_LDADD = -lpthread

# brokerpub: the plain publisher bench/forward holds mqd-forward against,
# linking the broker libraries mqd-forward links (those configure found).
noinst_PROGRAMS += bench/brokerpub
bench_brokerpub_SOURCES = bench/brokerpub.c
bench_brokerpub_CPPFLAGS = $(RABBITMQ_CFLAGS) $(NATS_CFLAGS)
bench_brokerpub_LDADD = $(RABBITMQ_LIBS) $(NATS_LIBS)

EXTRA_DIST += bench/compare bench/delayed bench/forward bench/RESULTS.md

# The instrument's own test: mqbench's counts against the real daemon.
TESTS += bench/test_mqbench.py
EXTRA_DIST += bench/test_mqbench.py
AM_TESTS_ENVIRONMENT += \
	MQBENCH='$(abs_top_builddir)/bench/mqbench'; export MQBENCH;
