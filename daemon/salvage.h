/* salvage.h: the queues rebuilt from their segments alone.
 *
 * A generation file is written once and synced before it is used, so only
 * the disk itself damages one.  When gdbmtool's recover has saved what it
 * could of such a file and the catalog or the queues' states were lost
 * with the rest, every message of every segment found comes back, in
 * order, each queue under a new incarnation.  Counters, reads that were
 * open and delivery counts are lost, and messages that were consumed but
 * still stored may come back: at least once, never lost.
 */
#pragma once

#include <glib.h>

#include "store.h"

/* FALSE with the error when the store holds no segment either (a file that
 * is not mqd's). */
gboolean salvage_queues (MqStore *store, GError **error);
