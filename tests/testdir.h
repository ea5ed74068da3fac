/* testdir.h: the temporary directories and files of the storage unit tests
 * (test_journal, test_store).  Every helper fails the test when the system
 * refuses, so a test never goes on from a state it did not make.
 */
#pragma once

#include <glib.h>

/* A new, empty directory below the system's temporary one; tmpl as for
 * g_dir_make_tmp ("mqd-test-x-XXXXXX"). */
char *testdir_make (const char *tmpl);
/* Removes path and everything below it, links without following them. */
void testdir_remove (const char *path);

/* The content of dir/name. */
GBytes *testdir_read (const char *dir, const char *name);
/* Makes dir/name hold data[0..len), creating or emptying it first. */
void testdir_write (const char *dir, const char *name, const void *data,
                    gsize len);
/* The descriptors this process has open: an error path must leave as
 * many as it found. */
guint testdir_count_fds (void);
