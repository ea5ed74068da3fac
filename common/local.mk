# common/local.mk: the rules the daemon and libmqclient share (queue names,
# protocol limits, durations, the default socket), built once and linked
# into both.
# Included from the top Makefile.am after its `noinst_LTLIBRARIES =` line.
# Plain libc and MIT-licensed like the client: its own CPPFLAGS keep GLib
# out.
noinst_LTLIBRARIES += common/libmqshared.la
common_libmqshared_la_SOURCES = common/mqshared.c common/mqshared.h
common_libmqshared_la_CPPFLAGS = -I$(top_srcdir)/common
