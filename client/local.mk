# client/local.mk: libmqclient, mqctl, their man pages and tests.
# Included from the top Makefile.am (non-recursive: paths from the top).
#
# configure must provide: client/libmqclient.pc (AC_CONFIG_FILES) and
# pkgconfigdir (PKG_INSTALLDIR).  The test environment must export MQCTL
# (the built client/mqctl) next to MQD.

# ---- libmqclient ---------------------------------------------------------
# Plain libc: the per-target CPPFLAGS keep AM_CPPFLAGS' GLib and GDBM flags
# out, and nothing but libc is linked.  The ABI is client/libmqclient.sym:
# exactly the symbols listed there are exported (tests/test_mqctl.py checks
# the built library against it), so adding a function to mqclient.h means
# adding it there too, on purpose.  -version-info current:revision:age, see
# libtool's manual: change it with every release whose interface changed
# (1:0:1: the delayed pushes, leases, touch and delayed aborts added;
# 2:0:2: windows of reliable reads, and mq_message's id appended;
# 3:0:3: mq_set_io_timeout).
lib_LTLIBRARIES += client/libmqclient.la
client_libmqclient_la_SOURCES = client/mqclient.h \
	client/api.c \
	client/conn.c client/conn.h \
	client/get.c client/get.h \
	client/handle.c client/handle.h \
	client/io.c client/io.h \
	client/manage.c client/manage.h \
	client/openread.c client/openread.h \
	client/push.c client/push.h \
	client/reply.c client/reply.h \
	client/request.c client/request.h \
	client/stats.c client/stats.h \
	client/window.c client/window.h
client_libmqclient_la_CPPFLAGS = -I$(top_srcdir)/client \
	-I$(top_srcdir)/common
client_libmqclient_la_LDFLAGS = $(AM_LDFLAGS) -version-info 3:0:3 \
	-export-symbols $(top_srcdir)/client/libmqclient.sym -no-undefined
EXTRA_client_libmqclient_la_DEPENDENCIES = \
	$(top_srcdir)/client/libmqclient.sym
client_libmqclient_la_LIBADD = common/libmqshared.la
include_HEADERS += client/mqclient.h
pkgconfig_DATA += client/libmqclient.pc

# ---- mqctl ---------------------------------------------------------------
bin_PROGRAMS += client/mqctl
client_mqctl_SOURCES = client/mqctl.c client/mqctl.h \
	client/mqctl-admin.c \
	client/mqctl-json.c \
	client/mqctl-options.c \
	client/mqctl-pop.c \
	client/mqctl-push.c \
	client/mqctl-report.c \
	client/mqctl-stats.c \
	client/mqctl-work.c
client_mqctl_CPPFLAGS = -I$(top_srcdir)/client -I$(top_srcdir)/common
# common/'s duration parser too: the library does not export it.
client_mqctl_LDADD = client/libmqclient.la common/libmqshared.la

dist_man_MANS += doc/mqctl.1 doc/libmqclient.3
EXTRA_DIST += client/COPYING client/libmqclient.pc.in client/libmqclient.sym \
	examples/push_pop.c examples/Makefile

# ---- tests ---------------------------------------------------------------
# test_client: the library against the real daemon ($MQD); GLib (GTest)
# and GDBM (to plant an unreadable record) are for the test only.
check_PROGRAMS += tests/test_client
tests_test_client_SOURCES = tests/test_client.c
tests_test_client_CPPFLAGS = -I$(top_srcdir)/client $(GLIB_CFLAGS) \
	$(GDBM_CFLAGS)
tests_test_client_LDADD = client/libmqclient.la $(GLIB_LIBS) $(GDBM_LIBS)

# test_mqctl.py: mqctl in shell pipelines ($MQCTL), and the example built
# against the library installed with make install DESTDIR=...
TESTS += tests/test_client tests/test_mqctl.py
dist_check_SCRIPTS += tests/test_mqctl.py
