/* segment.c: runs of messages in memory; see segment.h. */
#include "config.h"

#include <malloc.h>
#include <string.h>

#include "crc32c.h"
#include "segment.h"

G_DEFINE_QUARK (mq-segment-error-quark, mq_segment_error)

/* A dropped prefix larger than this (and than what is kept) is given back:
 * the rest moves to a new array twice its size, which costs no more than
 * was dropped.  At 64 KiB, and with the array kept at its size, 1,000 young
 * tails of 20 messages each under a pair load took 37 MB. */
#define RUN_SHRINK_MIN (4 * 1024)

struct _MqRun {
  gint refs;
  GByteArray *data;
  gsize start;                    /* offset of message first */
  guint64 first;
  guint64 end;
  guint64 cur_seq;                /* a message known to start at cur_off */
  gsize cur_off;
  gsize room;                     /* data holds this much without moving */
  gboolean lent;                  /* payloads in data are out on loan: it
                                     is never moved or written over again */
};

static MqRun *
run_wrap (GByteArray *data, gsize start, guint64 first, guint64 end)
{
  MqRun *run = g_new (MqRun, 1);

  run->refs = 1;
  run->data = data;
  run->start = start;
  run->first = first;
  run->end = end;
  run->cur_seq = first;
  run->cur_off = start;
  run->room = data->len;
  run->lent = FALSE;
  return run;
}

MqRun *
run_new (guint64 first)
{
  return run_wrap (g_byte_array_new (), 0, first, first);
}

static gboolean
run_damaged (GError **error, const char *what)
{
  g_set_error (error, MQ_SEGMENT_ERROR, 0, "damaged segment: %s",
               what);
  return FALSE;
}

/* Every record whole, and exactly count of them. */
static gboolean
records_check (const guint8 *records, gsize len, guint32 count,
               GError **error)
{
  gsize at = 0;

  for (guint32 i = 0; i < count; i++)
    {
      MqMsgHeader header;

      if (!record_msg_decode (records + at, len - at, &header))
        return run_damaged (error, "a message runs past its end");
      at += MQ_MSG_HEADER_SIZE + header.len;
    }
  return at == len ? TRUE : run_damaged (error, "bytes after its messages");
}

gboolean
run_check_segment (const guint8 *value, gsize len, guint64 *first,
                   guint64 *end, GError **error)
{
  guint32 count, crc;
  const guint8 *records = value + MQ_SEGMENT_HEADER_SIZE;

  if (!record_segment_header_decode (value, len, first, &count, &crc))
    return run_damaged (error, "unknown header");
  if (crc32c_update (0, records, len - MQ_SEGMENT_HEADER_SIZE) != crc)
    return run_damaged (error, "checksum mismatch");
  if (count == 0 || *first == 0)
    return run_damaged (error, "no messages");
  *end = *first + count;
  return records_check (records, len - MQ_SEGMENT_HEADER_SIZE, count, error);
}

MqRun *
run_from_segment (guint8 *value, gsize len, GError **error)
{
  guint64 first, end;

  if (run_check_segment (value, len, &first, &end, error))
    return run_wrap (g_byte_array_new_take (value, len),
                     MQ_SEGMENT_HEADER_SIZE, first, end);
  g_free (value);
  return NULL;
}

MqRun *
run_ref (MqRun *run)
{
  run->refs++;
  return run;
}

void
run_unref (MqRun *run)
{
  if (run == NULL || --run->refs > 0)
    return;
  g_byte_array_unref (run->data);
  g_free (run);
}

guint64
run_first (const MqRun *run)
{
  return run->first;
}

guint64
run_end (const MqRun *run)
{
  return run->end;
}

gsize
run_bytes (const MqRun *run)
{
  return run->data->len - run->start;
}

gsize
run_memory (const MqRun *run)
{
  return malloc_usable_size (run->data->data);
}

GBytes *
run_lend (MqRun *run, const guint8 *payload, gsize len)
{
  g_assert (payload >= run->data->data + run->start
            && payload + len <= run->data->data + run->data->len);
  run->lent = TRUE;
  return g_bytes_new_with_free_func (payload, len,
                                     (GDestroyNotify) g_byte_array_unref,
                                     g_byte_array_ref (run->data));
}

/* The run goes on in a copy of the messages it keeps, in an array of room
 * bytes; loans keep the old array as long as they need it. */
static void
run_move (MqRun *run, gsize room)
{
  gsize kept = run->data->len - run->start;
  GByteArray *copy = g_byte_array_sized_new ((guint) room);

  g_byte_array_append (copy, run->data->data + run->start, (guint) kept);
  g_byte_array_unref (run->data);
  run->data = copy;
  run->room = room;
  run->start = 0;
  run->cur_seq = run->first;
  run->cur_off = 0;
  run->lent = FALSE;
}

/* GArray allocates a power of two at least as large as it is asked for:
 * room is one, so that it is what the run really takes (when it was 2 x
 * 8448 bytes, 1,000 young tails of 6 KiB took 17 MB, not 8). */
static gsize
run_round_up (gsize bytes)
{
  return (gsize) 1 << g_bit_storage (MAX (bytes, 2) - 1);
}

/* Room for more bytes at the end.  Within the room nothing moves, loans or
 * not.  Past it the array grows to the next power of two; a lent one is
 * copied instead (the messages kept: a young tail is small, it is sealed
 * into segments as it grows), to room for as many bytes again, so that a
 * copy costs no more than the appends that fill it, and the room follows
 * what the run keeps, not the most it ever took. */
static void
run_make_room (MqRun *run, gsize more)
{
  gsize len = run->data->len;

  if (len + more <= run->room)
    return;
  if (run->lent)
    {
      run_move (run, run_round_up (2 * (run_bytes (run) + more)));
      return;
    }
  run->room = run_round_up (len + more);
  g_byte_array_set_size (run->data, (guint) run->room);
  g_byte_array_set_size (run->data, (guint) len);
}

void
run_append (MqRun *run, const MqMsgHeader *header, const guint8 *payload)
{
  gsize at;

  run_make_room (run, MQ_MSG_HEADER_SIZE + header->len);
  at = run->data->len;

  g_byte_array_set_size (run->data, at + MQ_MSG_HEADER_SIZE + header->len);
  record_msg_encode (header, run->data->data + at);
  if (header->len > 0)
    memcpy (run->data->data + at + MQ_MSG_HEADER_SIZE, payload, header->len);
  run->end++;
}

/* The offset of message seq (first <= seq < end), walking from the
 * cursor when it is at or before seq. */
static gsize
run_offset (MqRun *run, guint64 seq)
{
  guint64 at_seq = run->first;
  gsize at = run->start;

  if (run->cur_seq >= run->first && run->cur_seq <= seq)
    {
      at_seq = run->cur_seq;
      at = run->cur_off;
    }
  for (; at_seq < seq; at_seq++)
    at += MQ_MSG_HEADER_SIZE + record_get_be (run->data->data + at, 4);
  run->cur_seq = seq;
  run->cur_off = at;
  return at;
}

gboolean
run_find (MqRun *run, guint64 seq, MqMsgHeader *header,
          const guint8 **payload)
{
  gsize at;

  if (seq < run->first || seq >= run->end)
    return FALSE;
  at = run_offset (run, seq);
  /* The records were checked when they were made or read. */
  record_msg_decode (run->data->data + at, run->data->len - at, header);
  *payload = run->data->data + at + MQ_MSG_HEADER_SIZE;
  return TRUE;
}

static void
run_shrink (MqRun *run)
{
  if (run->start >= RUN_SHRINK_MIN && run->start >= run_bytes (run))
    run_move (run, run_round_up (2 * run_bytes (run)));
}

void
run_drop_before (MqRun *run, guint64 seq)
{
  if (seq <= run->first)
    return;
  seq = MIN (seq, run->end);
  run->start = run_offset (run, seq);
  run->first = seq;
  if (run->first == run->end)
    {
      if (run->lent)
        run_move (run, 0);
      g_byte_array_set_size (run->data, 0);
      run->start = run->cur_off = 0;
      return;
    }
  run_shrink (run);
}

/* The messages from seq on until target bytes: how many, and where they
 * end in data.  The one that crosses target is counted when past is
 * TRUE, else left out. */
static guint32
run_span (MqRun *run, guint64 seq, gsize target, gboolean past, gsize *to)
{
  gsize from = run_offset (run, seq);
  guint32 count = 0;

  *to = from;
  while (seq + count < run->end && *to - from < target)
    {
      gsize next = *to + MQ_MSG_HEADER_SIZE
        + record_get_be (run->data->data + *to, 4);

      if (next - from > target && !past)
        break;
      *to = next;
      count++;
    }
  return count;
}

MqRun *
run_copy_from (MqRun *run, guint64 seq, gsize most)
{
  gsize from = run_offset (run, seq), to;
  guint32 count = run_span (run, seq, most, FALSE, &to);
  GByteArray *data;

  if (count == 0)
    return NULL;
  data = g_byte_array_sized_new ((guint) (to - from));
  g_byte_array_append (data, run->data->data + from, (guint) (to - from));
  return run_wrap (data, 0, seq, seq + count);
}

guint64
run_encode_segment (MqRun *run, gsize target, GByteArray *out)
{
  gsize to;
  guint32 count;

  if (run->first == run->end)
    return run->first;
  count = run_span (run, run->first, MAX (target, 1), TRUE, &to);
  g_byte_array_set_size (out, MQ_SEGMENT_HEADER_SIZE);
  g_byte_array_append (out, run->data->data + run->start, to - run->start);
  record_segment_header_encode (out->data, run->first, count,
                                crc32c_update (0, run->data->data + run->start,
                                               to - run->start));
  return run->first + count;
}
