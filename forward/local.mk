# forward/local.mk: mqd-forward, its man page and its tests.
# Included from the top Makefile.am (non-recursive: paths from the top).

# Everything but main() is a convenience library, so the unit tests link
# the same objects the program runs.  The configuration file's reader is
# mqd's own (daemon/configfile.c), so both files read and fail alike.
noinst_LTLIBRARIES += forward/libforward.la
forward_libforward_la_SOURCES = \
	forward/backoff.c forward/backoff.h \
	forward/routes.c forward/routes.h \
	forward/window.c forward/window.h \
	daemon/configfile.c daemon/configfile.h
forward_cppflags = -DG_LOG_DOMAIN=\"mqd-forward\" -I$(top_srcdir)/forward \
	-I$(top_srcdir)/daemon -I$(top_srcdir)/common -I$(top_srcdir)/client \
	$(GLIB_CFLAGS) $(RABBITMQ_CFLAGS) $(NATS_CFLAGS)
forward_libforward_la_CPPFLAGS = $(forward_cppflags)
forward_libforward_la_LIBADD = common/libmqshared.la $(GLIB_LIBS)

# ---- tests ---------------------------------------------------------------
# test_forward: the pure parts (the file, the window, the backoff).
check_PROGRAMS += tests/test_forward
tests_test_forward_SOURCES = tests/test_forward.c
tests_test_forward_CPPFLAGS = $(forward_cppflags)
tests_test_forward_LDADD = forward/libforward.la
TESTS += tests/test_forward
