/* convert.h: a data directory of mqd's first format, read into the queues
 * once.
 *
 * The first format kept one GDBM record per message in mqd.gdbm (key:
 * queue name, NUL, 8-byte sequence number; value: a 24-byte header, then
 * the payload) and the queues' counters under "\0Q" + name, beside a
 * journal, mqd.journal, holding the whole state.  When the journal says
 * the last stop was not clean, the state is rebuilt from it first (into a
 * scratch file), as that release did.
 *
 * Messages a reliable read had out, or that were given back, come first;
 * every message keeps its bytes, flags and times.  Nothing is written
 * until the first checkpoint holds the converted state; convert_finish
 * then removes the old files.  A stop in between leaves them, and the next
 * start converts again.
 */
#pragma once

#include <glib.h>

#include "datadir.h"

/* Loads a first-format directory into the queues (in recovery mode);
 * does nothing where there is none. */
gboolean convert_directory (MqDataDir *dir, GError **error);
/* After the first checkpoint: waits for it, then removes the old files. */
gboolean convert_finish (MqDataDir *dir, GError **error);
/* A complete generation exists, so a conversion's checkpoint was durable:
 * old files left by a stop before convert_finish removed them go. */
gboolean convert_remove_leftovers (MqDataDir *dir, GError **error);
