/* record.c: the layouts of what mqd writes; see record.h. */
#include "config.h"

#include <string.h>

#include "record.h"

/* Version 2 adds the young tail, carried over by a checkpoint rather than
 * sealed at its cut. */
#define QUEUE_STATE_VERSION 2
#define CATALOG_VERSION 1
#define QUEUE_META_FIELDS 9
#define HELD_SIZE (8 + 8 + 4 + 2 + 1)

gboolean
record_bucket_name (const char *name, gsize len, gsize *queue_len,
                    guint *level, gint64 *start)
{
  const char *slash = memrchr (name, '/', len);
  char digits[32];
  guint64 l, s;
  gchar **parts;
  gboolean ok;

  if (slash == NULL || slash == name || len - (gsize) (slash - name) < 5
      || slash[1] != 'd' || len - (gsize) (slash - name) - 2 >= sizeof digits
      || !protocol_valid_name (name, (gsize) (slash - name)))
    return FALSE;
  memcpy (digits, slash + 2, len - (gsize) (slash - name) - 2);
  digits[len - (gsize) (slash - name) - 2] = '\0';
  parts = g_strsplit (digits, ".", 3);
  ok = g_strv_length (parts) == 2
    && g_ascii_string_to_unsigned (parts[0], 10, 0, 9, &l, NULL)
    && g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT64, &s, NULL);
  g_strfreev (parts);
  if (!ok)
    return FALSE;
  *queue_len = (gsize) (slash - name);
  *level = (guint) l;
  *start = (gint64) s;
  return TRUE;
}

gsize
record_bucket_name_make (char *out, const char *queue, gsize queue_len,
                         guint level, gint64 start)
{
  return (gsize) g_snprintf (out, MQ_MAX_STORED_NAME + 1, "%.*s/d%u.%"
                             G_GINT64_FORMAT, (int) queue_len, queue, level,
                             start);
}

gboolean
record_valid_name (const char *name, gsize len)
{
  gsize queue_len;
  guint level;
  gint64 start;

  return protocol_valid_name (name, len)
    || record_bucket_name (name, len, &queue_len, &level, &start);
}

void
record_msg_encode (const MqMsgHeader *header, guint8 out[MQ_MSG_HEADER_SIZE])
{
  record_put_be (out, header->len, 4);
  record_put_be (out + 4, header->flags, 4);
  record_put_be (out + 8, (guint64) header->created_ms, 8);
  record_put_be (out + 16, (guint64) header->expires_ms, 8);
  /* Due times fit 48 bits of milliseconds: 8,900 years. */
  record_put_be (out + 24, (guint64) header->due_ms, 6);
  record_put_be (out + 30, header->deliveries, 2);
}

gboolean
record_msg_decode (const guint8 *in, gsize avail, MqMsgHeader *header)
{
  if (avail < MQ_MSG_HEADER_SIZE)
    return FALSE;
  header->len = (guint32) record_get_be (in, 4);
  header->flags = (guint32) record_get_be (in + 4, 4);
  header->created_ms = (gint64) record_get_be (in + 8, 8);
  header->expires_ms = (gint64) record_get_be (in + 16, 8);
  header->due_ms = (gint64) record_get_be (in + 24, 6);
  header->deliveries = (guint16) record_get_be (in + 30, 2);
  return header->len <= avail - MQ_MSG_HEADER_SIZE;
}

void
record_segment_header_encode (guint8 out[MQ_SEGMENT_HEADER_SIZE],
                              guint64 first, guint32 count, guint32 crc)
{
  memset (out, 0, MQ_SEGMENT_HEADER_SIZE);
  out[0] = MQ_SEGMENT_VERSION;
  record_put_be (out + 4, count, 4);
  record_put_be (out + 8, first, 8);
  record_put_be (out + 16, crc, 4);
}

gboolean
record_segment_header_decode (const guint8 *in, gsize len, guint64 *first,
                              guint32 *count, guint32 *crc)
{
  if (len < MQ_SEGMENT_HEADER_SIZE || in[0] != MQ_SEGMENT_VERSION)
    return FALSE;
  *count = (guint32) record_get_be (in + 4, 4);
  *first = record_get_be (in + 8, 8);
  *crc = (guint32) record_get_be (in + 16, 4);
  return TRUE;
}

gsize
record_segment_key (const char *name, gsize name_len, guint64 inc,
                    guint64 first, guint8 *out)
{
  memcpy (out, name, name_len);
  out[name_len] = 0;
  record_put_be (out + name_len + 1, inc, 8);
  record_put_be (out + name_len + 9, first, 8);
  return name_len + 17;
}

gsize
record_catalog_key (guint8 *out)
{
  out[0] = 0;
  out[1] = 'C';
  return 2;
}

gsize
record_meta_chunk_key (guint32 index, guint8 *out)
{
  out[0] = 0;
  out[1] = 'M';
  record_put_be (out + 2, index, 4);
  return 6;
}

MqKeyKind
record_key_decode (const guint8 *key, gsize len, const char **name,
                   gsize *name_len, guint64 *inc, guint64 *first)
{
  if (len == 2 && key[0] == 0 && key[1] == 'C')
    return MQ_KEY_CATALOG;
  if (len == 6 && key[0] == 0 && key[1] == 'M')
    {
      *first = record_get_be (key + 2, 4);
      return MQ_KEY_META_CHUNK;
    }
  if (len >= 18 && key[len - 17] == 0
      && record_valid_name ((const char *) key, len - 17))
    {
      *name = (const char *) key;
      *name_len = len - 17;
      *inc = record_get_be (key + len - 16, 8);
      *first = record_get_be (key + len - 8, 8);
      return MQ_KEY_SEGMENT;
    }
  return MQ_KEY_UNKNOWN;
}

void
record_queue_encode (GByteArray *out, const char *name, gsize name_len,
                     const MqQueueMeta *meta, const MqHeld *held,
                     guint n_held, const guint8 *tail, gsize tail_len)
{
  const guint64 fields[QUEUE_META_FIELDS] = { meta->inc, meta->head,
    meta->tail, meta->head_seg, meta->enqueued, meta->dequeued, meta->bytes,
    meta->expired, meta->discarded };
  gsize at = out->len;
  guint8 *p;

  g_byte_array_set_size (out, at + 3 + name_len + 8 * QUEUE_META_FIELDS + 4
                         + (gsize) n_held * HELD_SIZE + 4 + tail_len);
  p = out->data + at;
  *p++ = QUEUE_STATE_VERSION;
  record_put_be (p, name_len, 2);
  p += 2;
  memcpy (p, name, name_len);
  p += name_len;
  for (guint i = 0; i < QUEUE_META_FIELDS; i++, p += 8)
    record_put_be (p, fields[i], 8);
  record_put_be (p, n_held, 4);
  p += 4;
  for (guint i = 0; i < n_held; i++, p += HELD_SIZE)
    {
      record_put_be (p, held[i].seq, 8);
      record_put_be (p + 8, held[i].seg_start, 8);
      record_put_be (p + 16, held[i].len, 4);
      record_put_be (p + 20, held[i].deliveries, 2);
      p[22] = held[i].open ? 1 : 0;
    }
  record_put_be (p, tail_len, 4);
  if (tail_len > 0)
    memcpy (p + 4, tail, tail_len);
}

gsize
record_queue_decode (const guint8 *in, gsize len, const char **name,
                     gsize *name_len, MqQueueMeta *meta, GArray *held,
                     const guint8 **tail, gsize *tail_len)
{
  guint64 *fields[QUEUE_META_FIELDS] = { &meta->inc, &meta->head,
    &meta->tail, &meta->head_seg, &meta->enqueued, &meta->dequeued,
    &meta->bytes, &meta->expired, &meta->discarded };
  gsize fixed, n_held, nlen, used;
  const guint8 *p;

  if (len < 3 || in[0] < 1 || in[0] > QUEUE_STATE_VERSION)
    return 0;
  nlen = record_get_be (in + 1, 2);
  fixed = 3 + nlen + 8 * QUEUE_META_FIELDS + 4;
  if (len < fixed || !record_valid_name ((const char *) in + 3, nlen))
    return 0;
  n_held = record_get_be (in + fixed - 4, 4);
  if (n_held > (len - fixed) / HELD_SIZE)
    return 0;
  used = fixed + n_held * HELD_SIZE;
  *tail = NULL;
  *tail_len = 0;
  if (in[0] >= 2)
    {
      if (len - used < 4 || record_get_be (in + used, 4) > len - used - 4)
        return 0;
      *tail_len = record_get_be (in + used, 4);
      *tail = *tail_len > 0 ? in + used + 4 : NULL;
      used += 4 + *tail_len;
    }
  *name = (const char *) in + 3;
  *name_len = nlen;
  p = in + 3 + nlen;
  for (guint i = 0; i < QUEUE_META_FIELDS; i++, p += 8)
    *fields[i] = record_get_be (p, 8);
  for (gsize i = 0, at = fixed; i < n_held; i++, at += HELD_SIZE)
    {
      MqHeld one = {
        .seq = record_get_be (in + at, 8),
        .seg_start = record_get_be (in + at + 8, 8),
        .len = (guint32) record_get_be (in + at + 16, 4),
        .deliveries = (guint16) record_get_be (in + at + 20, 2),
        .open = in[at + 22] != 0,
      };

      g_array_append_val (held, one);
    }
  return used;
}

void
record_catalog_encode (const MqCatalog *catalog, guint8 out[MQ_CATALOG_SIZE])
{
  out[0] = CATALOG_VERSION;
  record_put_be (out + 1, catalog->generation, 8);
  record_put_be (out + 9, catalog->next_inc, 8);
  record_put_be (out + 17, catalog->meta_chunks, 4);
  record_put_be (out + 21, catalog->queues, 8);
  memcpy (out + 29, catalog->instance, MQ_INSTANCE_ID_SIZE);
}

gboolean
record_catalog_decode (const guint8 *in, gsize len, MqCatalog *catalog)
{
  if (len < MQ_CATALOG_SIZE || in[0] != CATALOG_VERSION)
    return FALSE;
  catalog->generation = record_get_be (in + 1, 8);
  catalog->next_inc = record_get_be (in + 9, 8);
  catalog->meta_chunks = (guint32) record_get_be (in + 17, 4);
  catalog->queues = record_get_be (in + 21, 8);
  memcpy (catalog->instance, in + 29, MQ_INSTANCE_ID_SIZE);
  return TRUE;
}
