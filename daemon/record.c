/* record.c: key and value encoding for the store; see record.h. */
#include "config.h"

#include <string.h>

#include "record.h"
#include "protocol.h"

void
record_put_be (guint8 *out, guint64 value, guint width)
{
  for (guint i = 0; i < width; i++)
    out[i] = (guint8) (value >> (8 * (width - 1 - i)));
}

guint64
record_get_be (const guint8 *in, guint width)
{
  guint64 value = 0;

  for (guint i = 0; i < width; i++)
    value = (value << 8) | in[i];
  return value;
}

void
record_header_encode (const MqRecordHeader *header,
                      guint8 out[MQ_RECORD_HEADER_SIZE])
{
  out[0] = MQ_RECORD_VERSION;
  out[1] = 0;
  record_put_be (out + 2, header->deliveries, 2);
  record_put_be (out + 4, header->flags, 4);
  record_put_be (out + 8, (guint64) header->created_ms, 8);
  record_put_be (out + 16, (guint64) header->expires_ms, 8);
}

gboolean
record_header_decode (const guint8 *in, gsize len, MqRecordHeader *header)
{
  if (len < MQ_RECORD_HEADER_SIZE || in[0] != MQ_RECORD_VERSION)
    return FALSE;
  header->deliveries = (guint16) record_get_be (in + 2, 2);
  header->flags = (guint32) record_get_be (in + 4, 4);
  header->created_ms = (gint64) record_get_be (in + 8, 8);
  header->expires_ms = (gint64) record_get_be (in + 16, 8);
  return TRUE;
}

gsize
record_item_key (const char *name, gsize name_len, guint64 seq, guint8 *out)
{
  memcpy (out, name, name_len);
  out[name_len] = 0;
  record_put_be (out + name_len + 1, seq, 8);
  return name_len + 9;
}

gsize
record_meta_key (const char *name, gsize name_len, guint8 *out)
{
  out[0] = 0;
  out[1] = 'Q';
  memcpy (out + 2, name, name_len);
  return name_len + 2;
}

MqKeyKind
record_key_decode (const guint8 *key, gsize len, const char **name,
                   gsize *name_len, guint64 *seq)
{
  if (len >= 3 && key[0] == 0 && key[1] == 'Q'
      && protocol_valid_name ((const char *) key + 2, len - 2))
    {
      *name = (const char *) key + 2;
      *name_len = len - 2;
      return MQ_KEY_META;
    }
  if (len >= 10 && key[len - 9] == 0
      && protocol_valid_name ((const char *) key, len - 9))
    {
      *name = (const char *) key;
      *name_len = len - 9;
      *seq = record_get_be (key + len - 8, 8);
      return MQ_KEY_ITEM;
    }
  return MQ_KEY_UNKNOWN;
}

void
record_meta_encode (const MqQueueMeta *meta, guint8 out[MQ_META_SIZE])
{
  const guint64 fields[] = { meta->head, meta->tail, meta->enqueued,
    meta->dequeued, meta->bytes, meta->expired, meta->discarded };

  out[0] = MQ_META_VERSION;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    record_put_be (out + 1 + 8 * i, fields[i], 8);
}

gboolean
record_meta_decode (const guint8 *in, gsize len, MqQueueMeta *meta)
{
  guint64 *fields[] = { &meta->head, &meta->tail, &meta->enqueued,
    &meta->dequeued, &meta->bytes, &meta->expired, &meta->discarded };

  /* Later versions may append fields; version 1 readers ignore them. */
  if (len < MQ_META_SIZE || in[0] < MQ_META_VERSION)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    *fields[i] = record_get_be (in + 1 + 8 * i, 8);
  return TRUE;
}
