/* crc32c.h: CRC-32C (Castagnoli), the checksum of every journal entry and
 * segment mqd writes.
 *
 * Pure code.  x86-64 processors with SSE 4.2 compute it with one
 * instruction per 8 bytes (about 20 times zlib's CRC-32 in software); other
 * machines use a table, a byte at a time.
 */
#pragma once

#include <glib.h>

/* Continues crc (0 to start) over data[0..len). */
guint32 crc32c_update (guint32 crc, const guint8 *data, gsize len);
