/* convert.c: the first format read into the queues; see convert.h. */
#include "config.h"

#include <fcntl.h>
#include <gdbm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "checkpoint.h"
#include "convert.h"
#include "queue.h"

#define V1_DATA "mqd.gdbm"
#define V1_JOURNAL "mqd.journal"
#define V1_SCRATCH "mqd.gdbm.convert"
#define V1_JOURNAL_HEADER 16
#define V1_ITEM_HEADER 24
#define V1_META_FIELDS 7
#define V1_PUT 1
#define V1_DELETE 2
/* The conversion seals as it goes, as a replay does. */
#define CONVERT_TIDY_EVERY 4096

/* Names of the first format's files, and of what its stops left. */
static const char *const v1_files[] = {
  V1_DATA, V1_JOURNAL, V1_SCRATCH, "mqd.gdbm.rebuild", "mqd.gdbm.new",
  "mqd.journal.new",
};

static gboolean converted;

typedef struct {
  char *name;
  guint64 fields[V1_META_FIELDS];   /* head, tail, enqueued, dequeued,
                                       bytes, expired, discarded */
  GArray *below_head;               /* seqs of items below head */
  guint64 lowest;                   /* the lowest seq at or above head */
  guint64 highest;
} V1Queue;

static gboolean
convert_failed (GError **error, const char *what)
{
  g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
               "cannot convert the data of the first format: %s", what);
  return FALSE;
}

static void
v1_queue_free (gpointer data)
{
  V1Queue *queue = data;

  g_array_unref (queue->below_head);
  g_free (queue->name);
  g_free (queue);
}

static V1Queue *
v1_queue (GHashTable *all, const char *name, gsize len)
{
  g_autofree char *key = g_strndup (name, len);
  V1Queue *queue = g_hash_table_lookup (all, key);

  if (queue == NULL)
    {
      queue = g_new0 (V1Queue, 1);
      queue->name = g_steal_pointer (&key);
      queue->fields[0] = queue->fields[1] = 1;
      queue->below_head = g_array_new (FALSE, FALSE, sizeof (guint64));
      queue->lowest = G_MAXUINT64;
      g_hash_table_insert (all, queue->name, queue);
    }
  return queue;
}

/* An item key (name, NUL, seq) or a counters key ("\0Q" + name). */
static gboolean
v1_key (const datum *key, const char **name, gsize *len, guint64 *seq)
{
  const guint8 *k = (const guint8 *) key->dptr;
  gsize n = (gsize) key->dsize;

  if (n >= 3 && k[0] == 0 && k[1] == 'Q'
      && protocol_valid_name ((const char *) k + 2, n - 2))
    {
      *name = (const char *) k + 2;
      *len = n - 2;
      *seq = 0;
      return TRUE;
    }
  if (n >= 10 && k[n - 9] == 0 && protocol_valid_name ((const char *) k,
                                                       n - 9))
    {
      *name = (const char *) k;
      *len = n - 9;
      *seq = record_get_be (k + n - 8, 8);
      return *seq > 0;
    }
  return FALSE;
}

typedef void (*V1KeyFunc) (GDBM_FILE dbf, const datum *key, GHashTable *all);

static gboolean
v1_scan (GDBM_FILE dbf, V1KeyFunc func, GHashTable *all, GError **error)
{
  datum key = gdbm_firstkey (dbf);

  while (key.dptr != NULL)
    {
      datum next;

      func (dbf, &key, all);
      next = gdbm_nextkey (dbf, key);
      free (key.dptr);
      key = next;
    }
  if (gdbm_last_errno (dbf) != GDBM_ITEM_NOT_FOUND
      && gdbm_last_errno (dbf) != GDBM_NO_ERROR)
    return convert_failed (error, gdbm_db_strerror (dbf));
  return TRUE;
}

/* First pass: every queue's counters. */
static void
scan_counters (GDBM_FILE dbf, const datum *key, GHashTable *all)
{
  const char *name;
  gsize len;
  guint64 seq;
  datum value;

  if (!v1_key (key, &name, &len, &seq) || seq != 0)
    return;
  value = gdbm_fetch (dbf, *key);
  if (value.dptr != NULL && value.dsize >= 1 + 8 * V1_META_FIELDS
      && value.dptr[0] >= 1)
    {
      V1Queue *queue = v1_queue (all, name, len);

      for (guint i = 0; i < V1_META_FIELDS; i++)
        queue->fields[i] = record_get_be ((guint8 *) value.dptr + 1 + 8 * i,
                                          8);
    }
  free (value.dptr);
}

/* Second pass, every head known: where each queue's items are. */
static void
scan_items (GDBM_FILE dbf, const datum *key, GHashTable *all)
{
  const char *name;
  gsize len;
  guint64 seq;
  V1Queue *queue;

  if (!v1_key (key, &name, &len, &seq) || seq == 0)
    return;
  queue = v1_queue (all, name, len);
  if (seq < queue->fields[0])
    g_array_append_val (queue->below_head, seq);
  else
    queue->lowest = MIN (queue->lowest, seq);
  queue->highest = MAX (queue->highest, seq);
}

static gint
compare_seqs (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

static gboolean
load_item (GDBM_FILE dbf, MqQueue *queue, V1Queue *old, guint64 seq,
           guint64 *loaded, GError **error)
{
  guint8 key[MQ_MAX_NAME + 9];
  gsize len = strlen (old->name);
  datum k = { (char *) key, (int) (len + 9) }, v;
  MqMsgHeader header = { 0 };
  gboolean ok;

  memcpy (key, old->name, len);
  key[len] = 0;
  record_put_be (key + len + 1, seq, 8);
  v = gdbm_fetch (dbf, k);
  if (v.dptr == NULL)
    return TRUE;                  /* a hole the old release skipped too */
  if (v.dsize < V1_ITEM_HEADER || v.dptr[0] != 1)
    {
      free (v.dptr);
      return convert_failed (error, "a message of an unknown format");
    }
  header.len = (guint32) (v.dsize - V1_ITEM_HEADER);
  header.flags = (guint32) record_get_be ((guint8 *) v.dptr + 4, 4);
  header.created_ms = (gint64) record_get_be ((guint8 *) v.dptr + 8, 8);
  header.expires_ms = (gint64) record_get_be ((guint8 *) v.dptr + 16, 8);
  ok = queue_load (queue, &header, (guint8 *) v.dptr + V1_ITEM_HEADER,
                   error);
  free (v.dptr);
  if (ok && ++*loaded % CONVERT_TIDY_EVERY == 0)
    ok = queues_tidy (error);
  return ok;
}

static gboolean
load_queue (GDBM_FILE dbf, V1Queue *old, guint64 *loaded, GError **error)
{
  MqQueue *queue = queue_lookup_or_create (old->name, strlen (old->name));
  const guint64 *f = old->fields;

  g_array_sort (old->below_head, compare_seqs);
  for (guint i = 0; i < old->below_head->len; i++)
    if (!load_item (dbf, queue, old,
                    g_array_index (old->below_head, guint64, i), loaded,
                    error))
      return FALSE;
  for (guint64 seq = old->lowest; seq <= old->highest; seq++)
    if (!load_item (dbf, queue, old, seq, loaded, error))
      return FALSE;
  queue_load_counters (queue, f[2], f[3], f[5], f[6]);
  return TRUE;
}

static gint
compare_v1_names (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(V1Queue * const *) a)->name,
                 (*(V1Queue * const *) b)->name);
}

static gboolean
load_all (GDBM_FILE dbf, GError **error)
{
  g_autoptr (GHashTable) all = g_hash_table_new_full (g_str_hash,
                                                      g_str_equal, NULL,
                                                      v1_queue_free);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  guint64 loaded = 0;

  if (!v1_scan (dbf, scan_counters, all, error)
      || !v1_scan (dbf, scan_items, all, error))
    return FALSE;
  g_hash_table_iter_init (&iter, all);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_v1_names);
  for (guint i = 0; i < sorted->len; i++)
    if (!load_queue (dbf, g_ptr_array_index (sorted, i), &loaded, error))
      return FALSE;
  g_message ("converted %u queues and %" G_GUINT64_FORMAT " messages from "
             "the first format", sorted->len, loaded);
  return TRUE;
}

static GDBM_FILE
v1_open (MqDataDir *dir, const char *name, int mode, GError **error)
{
  int flags = mode == GDBM_READER ? O_RDONLY : O_RDWR;
  int fd = mode == GDBM_NEWDB ? file_create (datadir_fd (dir), name, error)
    : file_open (datadir_fd (dir), name, flags, error);
  GDBM_FILE dbf;

  if (fd < 0)
    return NULL;
  dbf = gdbm_fd_open (fd, name, 0, mode | GDBM_NOLOCK | GDBM_NOMMAP
                      | GDBM_CLOEXEC | GDBM_CLOERROR, NULL);
  if (dbf == NULL)
    g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                 "cannot open %s/%s: %s", datadir_path (dir), name,
                 gdbm_strerror (gdbm_errno));
  return dbf;
}

/* Applies the whole entries of the first format's journal; an entry cut
 * short or failing its CRC ends it, as it did. */
static gboolean
v1_replay (GDBM_FILE dbf, const guint8 *data, gsize len, GError **error)
{
  gsize at = V1_JOURNAL_HEADER;

  while (len - at >= 11)
    {
      const guint8 *body = data + at + 8;
      gsize body_len = record_get_be (data + at, 4), key_len;
      datum k, v;

      if (body_len < 3 || body_len > len - at - 8
          || crc32 (0, body, (uInt) body_len) != record_get_be (data + at + 4,
                                                                4))
        break;
      key_len = record_get_be (body + 1, 2);
      if (key_len > body_len - 3)
        break;
      k.dptr = (char *) body + 3;
      k.dsize = (int) key_len;
      v.dptr = (char *) body + 3 + key_len;
      v.dsize = (int) (body_len - 3 - key_len);
      if (body[0] == V1_PUT && gdbm_store (dbf, k, v, GDBM_REPLACE) != 0)
        return convert_failed (error, gdbm_db_strerror (dbf));
      if (body[0] == V1_DELETE)
        gdbm_delete (dbf, k);
      at += 8 + body_len;
    }
  return TRUE;
}

/* The state the first format's journal holds, in a scratch file. */
static GDBM_FILE
v1_rebuild (MqDataDir *dir, const guint8 *journal, gsize len, GError **error)
{
  GDBM_FILE dbf;

  if (!datadir_remove (dir, V1_SCRATCH, error))
    return NULL;
  dbf = v1_open (dir, V1_SCRATCH, GDBM_NEWDB, error);
  if (dbf != NULL && !v1_replay (dbf, journal, len, error))
    g_clear_pointer (&dbf, gdbm_close);
  return dbf;
}

static GMappedFile *
v1_map_journal (MqDataDir *dir, GError **error)
{
  int fd = file_open (datadir_fd (dir), V1_JOURNAL, O_RDONLY, error);
  GMappedFile *file = fd >= 0 ? g_mapped_file_new_from_fd (fd, FALSE, error)
    : NULL;
  const guint8 *data;

  if (fd >= 0)
    close (fd);
  if (file == NULL)
    return NULL;
  data = (const guint8 *) g_mapped_file_get_contents (file);
  if (g_mapped_file_get_length (file) < V1_JOURNAL_HEADER
      || memcmp (data, "MQDJ", 4) != 0 || data[4] != 1)
    {
      g_mapped_file_unref (file);
      convert_failed (error, V1_JOURNAL " is not a journal of the first "
                      "format");
      return NULL;
    }
  return file;
}

gboolean
convert_directory (MqDataDir *dir, GError **error)
{
  g_autoptr (GMappedFile) journal = NULL;
  GDBM_FILE dbf;
  gboolean ok;

  converted = FALSE;
  if (!datadir_exists (dir, V1_JOURNAL) && !datadir_exists (dir, V1_DATA))
    return TRUE;
  g_message ("%s holds data of mqd's first format: converting it",
             datadir_path (dir));
  if (datadir_exists (dir, V1_JOURNAL)
      && (journal = v1_map_journal (dir, error)) == NULL)
    return FALSE;
  if (journal != NULL
      && (((const guint8 *) g_mapped_file_get_contents (journal))[5] != 1
          || !datadir_exists (dir, V1_DATA)))
    dbf = v1_rebuild (dir, (const guint8 *)
                      g_mapped_file_get_contents (journal),
                      g_mapped_file_get_length (journal), error);
  else
    dbf = v1_open (dir, V1_DATA, GDBM_READER, error);
  if (dbf == NULL)
    return FALSE;
  ok = load_all (dbf, error);
  gdbm_close (dbf);
  converted = ok;
  return ok;
}

static gboolean
convert_remove (MqDataDir *dir, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (v1_files); i++)
    if (!datadir_remove (dir, v1_files[i], error))
      return FALSE;
  return datadir_sync (dir, error);
}

gboolean
convert_finish (MqDataDir *dir, GError **error)
{
  if (!converted)
    return TRUE;
  converted = FALSE;
  return checkpoint_wait (error) && convert_remove (dir, error);
}

gboolean
convert_remove_leftovers (MqDataDir *dir, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (v1_files); i++)
    if (datadir_exists (dir, v1_files[i]))
      {
        g_message ("%s: removing the files of the first format, converted "
                   "by an earlier start", datadir_path (dir));
        return convert_remove (dir, error);
      }
  return TRUE;
}
