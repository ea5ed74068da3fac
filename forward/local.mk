# forward/local.mk: mqd-forward, its man page and its tests.
# Included from the top Makefile.am (non-recursive: paths from the top).
#
# configure decides HAVE_RABBITMQ and HAVE_NATS (each optional); a link to
# a broker is built only with its library, and a route of a kind built
# without is refused when the file is read.

# Everything but main() is a convenience library, so the unit tests link
# the same objects the program runs.  The configuration file's reader is
# mqd's own (daemon/configfile.c), so both files read and fail alike.
noinst_LTLIBRARIES += forward/libforward.la
forward_libforward_la_SOURCES = \
	forward/backoff.c forward/backoff.h \
	forward/broker.c forward/broker.h \
	forward/inbound.c \
	forward/outbound.c \
	forward/routes.c forward/routes.h \
	forward/run.c forward/run.h \
	forward/window.c forward/window.h \
	daemon/configfile.c daemon/configfile.h
forward_cppflags = -DG_LOG_DOMAIN=\"mqd-forward\" -I$(top_srcdir)/forward \
	-I$(top_srcdir)/daemon -I$(top_srcdir)/common -I$(top_srcdir)/client \
	$(GLIB_CFLAGS) $(RABBITMQ_CFLAGS) $(NATS_CFLAGS)
forward_libforward_la_CPPFLAGS = $(forward_cppflags)
forward_libforward_la_LIBADD = client/libmqclient.la common/libmqshared.la \
	$(GLIB_LIBS) $(RABBITMQ_LIBS) $(NATS_LIBS)
if HAVE_RABBITMQ
forward_libforward_la_SOURCES += forward/link_rabbitmq.c
endif
if HAVE_NATS
forward_libforward_la_SOURCES += forward/link_nats.c
endif
EXTRA_DIST += forward/link_rabbitmq.c forward/link_nats.c

bin_PROGRAMS += forward/mqd-forward
forward_mqd_forward_SOURCES = forward/main.c
forward_mqd_forward_CPPFLAGS = $(forward_cppflags)
forward_mqd_forward_LDADD = forward/libforward.la

# ---- tests ---------------------------------------------------------------
# test_forward: the pure parts (the file, the window, the backoff).
check_PROGRAMS += tests/test_forward
tests_test_forward_SOURCES = tests/test_forward.c
tests_test_forward_CPPFLAGS = $(forward_cppflags)
tests_test_forward_LDADD = forward/libforward.la
TESTS += tests/test_forward

# The forwarder against real brokers (tests/brokers.py starts them) and
# the real daemon.  Without a broker's library its tests fail, saying so:
# they are never skipped.
forward_tests = tests/test_forward_rabbitmq.py tests/test_forward_nats.py
TESTS += $(forward_tests)
dist_check_SCRIPTS += $(forward_tests)
EXTRA_DIST += tests/forwardtest.py
AM_TESTS_ENVIRONMENT += \
	MQD_FORWARD='$(abs_top_builddir)/forward/mqd-forward'; \
	export MQD_FORWARD;

dist_man_MANS += doc/mqd-forward.8
