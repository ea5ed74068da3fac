/* space.h: room for mqd's files to grow: free space on the data's file
 * system and the file size limit (RLIMIT_FSIZE).
 *
 * Both are read by a timer (space_refresh), not for every set: a set only
 * counts what it will write against the last reading, and only a set that
 * would not fit reads them again.  A write GDBM cannot finish leaves its
 * file needing recovery, so sets are refused while less than a margin, plus
 * what memory holds and will write, plus three times the set's size, is
 * free; gets, which write small journal entries into space written ahead,
 * go on.
 */
#pragma once

#include <glib.h>

/* fd: any descriptor on the data's file system (the directory's). */
void space_start (int fd);
void space_refresh (void);
/* FALSE with an error (MQ_STORE_ERROR_NO_SPACE) when a set of len bytes
 * must be refused; reserve is what memory holds that will be written. */
gboolean space_check_set (gsize len, gsize reserve, GError **error);
/* The same for a write of len bytes the daemon must make (sealing a
 * segment, copying one), which only the margin protects. */
gboolean space_check_write (gsize len, GError **error);
/* The largest file being written now (the journal, the generation). */
void space_note_files (guint64 largest);
/* The file size limit in bytes; G_MAXUINT64 when there is none. */
guint64 space_file_limit (void);
