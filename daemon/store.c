/* store.c: the generations of GDBM files; see store.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* GDBM's bucket cache, per file: a generation holds few keys (one per
 * segment), so a small one keeps memory flat. */
#define STORE_CACHE_BUCKETS 16
/* Queue states are written in chunks of about this size. */
#define STORE_STATE_CHUNK (64 * 1024)
/* A generation is emptied into the newest once less than this share of
 * its segments is live, or when there are more than STORE_MAX_GENERATIONS
 * (the one with the smallest share then). */
#define STORE_EVACUATE_SHARE 0.5
#define STORE_MAX_GENERATIONS 8
/* A step of a count reads one key from a file (and with it its segment:
 * GDBM reads a key with its value), or this many from a key list. */
#define STORE_KEYS_PER_STEP 64

typedef struct {
  guint64 number;
  GDBM_FILE dbf;
  char *name;
  gboolean complete;              /* synced under its final name */
  guint64 segments;               /* at the last survey, or as written;
                                     G_MAXUINT64: not counted yet */
  guint64 live;                   /* at most this many: a segment once
                                     dead stays dead */
  gboolean evacuated;             /* its live segments were all copied */
  GByteArray *keys;               /* its live segments' keys, each after
                                     its length (2 bytes), as written or
                                     as a count found them; NULL until a
                                     count read them from the file */
} Gen;

struct _MqStore {
  MqDataDir *dir;
  GPtrArray *gens;                /* Gen, by number; the part one last */
  Gen *part;                      /* being written, or NULL */
  guint64 highest;
  guint64 part_bytes;
  guint32 part_chunks;            /* chunks of queue states written */
  Gen *evacuating;                /* counted: it has its key list */
  gsize evac_off;                 /* the next key in evacuating->keys */
  gboolean surveying;             /* a round of counting is under way */
  guint64 surveyed;               /* its last generation counted */
  Gen *counting;                  /* the one being counted, or NULL */
  datum count_key;                /* its next key, malloc'ed */
  gsize count_off;                /* or its offset in counting->keys */
  guint64 count_segments;
  guint64 count_live;
  GByteArray *count_kept;         /* the live keys counted */
  GByteArray *scratch;
};


char *
store_file_name (guint64 number)
{
  return g_strdup_printf ("mqd-%06" G_GUINT64_FORMAT ".gdbm", number);
}

char *
store_part_name (guint64 number)
{
  return g_strdup_printf ("mqd-%06" G_GUINT64_FORMAT ".gdbm.part", number);
}

gboolean
store_parse_name (const char *name, const char *suffix, guint64 *number)
{
  g_autofree char *digits = NULL;
  const char *dot;

  if (!g_str_has_prefix (name, "mqd-"))
    return FALSE;
  dot = strchr (name + 4, '.');
  if (dot == NULL || strcmp (dot + 1, suffix) != 0)
    return FALSE;
  /* Numbers grow by one a checkpoint: G_MAXUINT32 is never reached, and
   * a larger one is not a name of mqd's (nor can highest + 1 wrap). */
  digits = g_strndup (name + 4, dot - (name + 4));
  return g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT32, number,
                                     NULL);
}

static MqStoreError
store_error_code (gdbm_error code, int syserr)
{
  if (syserr == ENOSPC || syserr == EDQUOT || syserr == EFBIG)
    return MQ_STORE_ERROR_NO_SPACE;
  switch (code)
    {
    case GDBM_BAD_MAGIC_NUMBER:
    case GDBM_BAD_FILE_OFFSET:
    case GDBM_BAD_HEADER:
    case GDBM_BAD_BUCKET:
    case GDBM_BAD_AVAIL:
    case GDBM_BAD_DIR_ENTRY:
    case GDBM_BAD_HASH_TABLE:
    case GDBM_NEED_RECOVERY:
    case GDBM_BLOCK_SIZE_ERROR:
    case GDBM_FILE_EOF:
      return MQ_STORE_ERROR_CORRUPT;
    default:
      return MQ_STORE_ERROR_FAILED;
    }
}

static gboolean
gen_error (MqStore *store, Gen *gen, GError **error, const char *doing)
{
  gdbm_error code = gdbm_last_errno (gen->dbf);
  int syserr = gdbm_last_syserr (gen->dbf);

  g_set_error (error, MQ_STORE_ERROR, store_error_code (code, syserr),
               "cannot %s %s/%s: %s", doing, datadir_path (store->dir),
               gen->name, gdbm_db_strerror (gen->dbf));
  return FALSE;
}

static GDBM_FILE
gen_open_fd (MqDataDir *dir, int fd, const char *name, int mode,
             GError **error)
{
  size_t cache = STORE_CACHE_BUCKETS;
  GDBM_FILE dbf = gdbm_fd_open (fd, name, 0, mode | GDBM_NOLOCK | GDBM_NOMMAP
                                | GDBM_CLOEXEC | GDBM_CLOERROR, NULL);

  if (dbf == NULL)
    {
      int saved = errno;

      g_set_error (error, MQ_STORE_ERROR,
                   store_error_code (gdbm_errno, saved), "cannot open %s/%s: "
                   "%s%s%s", datadir_path (dir), name,
                   gdbm_strerror (gdbm_errno),
                   gdbm_check_syserr (gdbm_errno) ? ": " : "",
                   gdbm_check_syserr (gdbm_errno) ? g_strerror (saved) : "");
      return NULL;
    }
  gdbm_setopt (dbf, GDBM_SETCACHESIZE, &cache, sizeof cache);
  return dbf;
}

static void
keys_append (GByteArray *keys, const guint8 *key, gsize len)
{
  guint16 n = (guint16) len;

  g_byte_array_append (keys, (const guint8 *) &n, sizeof n);
  g_byte_array_append (keys, key, (guint) len);
}

/* The key at *off in keys; *off moves past it. */
static datum
keys_next (GByteArray *keys, gsize *off)
{
  guint16 n;
  datum key;

  memcpy (&n, keys->data + *off, sizeof n);
  key.dptr = (char *) keys->data + *off + sizeof n;
  key.dsize = n;
  *off += sizeof n + n;
  return key;
}

static Gen *
gen_new (guint64 number, GDBM_FILE dbf, char *name, gboolean complete)
{
  Gen *gen = g_new0 (Gen, 1);

  gen->number = number;
  gen->dbf = dbf;
  gen->name = name;
  gen->complete = complete;
  gen->segments = gen->live = complete ? G_MAXUINT64 : 0;
  if (!complete)
    gen->keys = g_byte_array_new ();
  return gen;
}

static void
gen_free (gpointer data)
{
  Gen *gen = data;

  if (gen->dbf != NULL)
    gdbm_close (gen->dbf);
  if (gen->keys != NULL)
    g_byte_array_unref (gen->keys);
  g_free (gen->name);
  g_free (gen);
}

static gboolean
store_open_gen (MqStore *store, guint64 number, GError **error)
{
  char *name = store_file_name (number);
  int fd = file_open (datadir_fd (store->dir), name, O_RDONLY, error);
  GDBM_FILE dbf;

  if (fd < 0
      || (dbf = gen_open_fd (store->dir, fd, name, GDBM_READER, error))
         == NULL)
    {
      g_free (name);
      return FALSE;
    }
  g_ptr_array_add (store->gens, gen_new (number, dbf, name, TRUE));
  return TRUE;
}

static gint
compare_numbers (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

/* Complete generations are opened in order; unfinished ones removed. */
static gboolean
store_scan_dir (MqStore *store, GPtrArray *names, GError **error)
{
  g_autoptr (GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 number;

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (store_parse_name (name, "gdbm", &number))
        g_array_append_val (numbers, number);
      else if (store_parse_name (name, "gdbm.part", &number)
               && !datadir_remove (store->dir, name, error))
        return FALSE;
      if (store_parse_name (name, "gdbm", &number)
          || store_parse_name (name, "gdbm.part", &number)
          || store_parse_name (name, "journal", &number))
        store->highest = MAX (store->highest, number);
    }
  g_array_sort (numbers, compare_numbers);
  for (guint i = 0; i < numbers->len; i++)
    if (!store_open_gen (store, g_array_index (numbers, guint64, i), error))
      return FALSE;
  return TRUE;
}

MqStore *
store_open (MqDataDir *dir, GPtrArray *names, GError **error)
{
  MqStore *store = g_new0 (MqStore, 1);

  store->dir = dir;
  store->gens = g_ptr_array_new_with_free_func (gen_free);
  store->scratch = g_byte_array_new ();
  if (!store_scan_dir (store, names, error))
    {
      store_close (store);
      return NULL;
    }
  return store;
}

void
store_close (MqStore *store)
{
  Gen *part = store->part;

  free (store->count_key.dptr);
  g_clear_pointer (&store->count_kept, g_byte_array_unref);
  if (part != NULL && store->part_bytes == 0)
    {
      datadir_remove (store->dir, part->name, NULL);
      g_ptr_array_remove (store->gens, part);
    }
  g_ptr_array_unref (store->gens);
  g_byte_array_unref (store->scratch);
  g_free (store);
}

static Gen *
store_gen (MqStore *store, guint i)
{
  return g_ptr_array_index (store->gens, i);
}

guint64
store_newest (MqStore *store)
{
  for (guint i = store->gens->len; i-- > 0;)
    if (store_gen (store, i)->complete)
      return store_gen (store, i)->number;
  return 0;
}

guint64
store_highest (MqStore *store)
{
  return store->highest;
}

gboolean
store_holds_segments (MqStore *store)
{
  for (guint i = 0; i < store->gens->len; i++)
    if (store_gen (store, i)->segments > 0)
      return TRUE;
  return FALSE;
}

/* ---- reading ---------------------------------------------------------- */

/* The value of key in gen, malloc'ed; NULL without an error when absent. */
static guint8 *
gen_fetch (MqStore *store, Gen *gen, const guint8 *key, gsize key_len,
           gsize *len, GError **error)
{
  datum k = { (char *) key, (int) key_len };
  datum v = gdbm_fetch (gen->dbf, k);

  if (v.dptr == NULL)
    {
      if (gdbm_last_errno (gen->dbf) != GDBM_ITEM_NOT_FOUND)
        gen_error (store, gen, error, "read from");
      return NULL;
    }
  *len = (gsize) v.dsize;
  return (guint8 *) v.dptr;
}

static gboolean
store_load_chunk (MqStore *store, Gen *gen, guint32 index,
                  MqStoreQueueFunc func, gpointer user_data, GError **error)
{
  guint8 key[MQ_META_KEY_MAX];
  gsize key_len = record_meta_chunk_key (index, key), len = 0;
  g_autofree guint8 *value = gen_fetch (store, gen, key, key_len, &len,
                                        error);
  g_autoptr (GArray) held = g_array_new (FALSE, FALSE, sizeof (MqHeld));

  for (gsize at = 0; value != NULL && at < len;)
    {
      MqQueueMeta meta;
      const char *name;
      const guint8 *tail;
      gsize name_len, tail_len;
      gsize used = record_queue_decode (value + at, len - at, &name,
                                        &name_len, &meta, held, &tail,
                                        &tail_len);

      if (used == 0)
        break;
      if (!func (name, name_len, &meta, held, tail, tail_len, user_data,
                 error))
        {
          g_prefix_error (error, "%s/%s: queue states (part %u): ",
                          datadir_path (store->dir), gen->name, index);
          return FALSE;
        }
      g_array_set_size (held, 0);
      at += used;
      if (at == len)
        return TRUE;
    }
  if (error != NULL && *error == NULL)
    g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE,
                 "%s/%s: queue states (part %u) missing or damaged",
                 datadir_path (store->dir), gen->name, index);
  return FALSE;
}

gboolean
store_load (MqStore *store, MqCatalog *catalog, MqStoreQueueFunc func,
            gpointer user_data, GError **error)
{
  guint8 key[MQ_META_KEY_MAX];
  gsize key_len = record_catalog_key (key), len = 0;
  Gen *gen = NULL;
  g_autofree guint8 *value = NULL;

  for (guint i = 0; i < store->gens->len; i++)
    if (store_gen (store, i)->complete)
      gen = store_gen (store, i);

  if (gen != NULL)
    value = gen_fetch (store, gen, key, key_len, &len, error);
  if (gen == NULL)
    {
      g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE,
                   "%s holds no complete generation",
                   datadir_path (store->dir));
      return FALSE;
    }
  if (value == NULL || !record_catalog_decode (value, len, catalog)
      || catalog->generation != gen->number)
    {
      if (error == NULL || *error == NULL)
        g_set_error (error, MQ_STORE_ERROR, MQ_STORE_ERROR_NO_STATE,
                     "%s/%s has no catalog: not a generation of mqd's",
                     datadir_path (store->dir), gen->name);
      return FALSE;
    }
  for (guint32 i = 0; i < catalog->meta_chunks; i++)
    if (!store_load_chunk (store, gen, i, func, user_data, error))
      return FALSE;
  return TRUE;
}

gboolean
store_scan_segments (MqStore *store, MqStoreSegmentFunc func,
                     gpointer user_data, GError **error)
{
  for (guint i = 0; i < store->gens->len; i++)
    {
      Gen *gen = store_gen (store, i);
      datum key = gdbm_firstkey (gen->dbf);

      while (key.dptr != NULL)
        {
          const char *name;
          gsize name_len;
          guint64 inc, first;
          datum next;

          if (record_key_decode ((const guint8 *) key.dptr, key.dsize, &name,
                                 &name_len, &inc, &first) == MQ_KEY_SEGMENT)
            func (name, name_len, inc, first, user_data);
          next = gdbm_nextkey (gen->dbf, key);
          free (key.dptr);
          key = next;
        }
      if (gdbm_last_errno (gen->dbf) != GDBM_ITEM_NOT_FOUND
          && gdbm_last_errno (gen->dbf) != GDBM_NO_ERROR)
        return gen_error (store, gen, error, "read the keys of");
    }
  return TRUE;
}

static gboolean
store_fetch_from (MqStore *store, Gen *gen, const guint8 *key, gsize key_len,
                  guint64 first, MqRun **run, GError **error)
{
  GError *local = NULL;
  gsize len = 0;
  guint8 *value = gen_fetch (store, gen, key, key_len, &len, &local);

  if (value == NULL)
    {
      if (local == NULL)
        return FALSE;
      g_propagate_error (error, local);
      return TRUE;
    }
  *run = run_from_segment (value, len, &local);
  if (*run != NULL && run_first (*run) != first)
    {
      g_set_error (&local, MQ_STORE_ERROR, MQ_STORE_ERROR_CORRUPT,
                   "damaged segment: it starts at %" G_GUINT64_FORMAT
                   ", its key says %" G_GUINT64_FORMAT, run_first (*run),
                   first);
      g_clear_pointer (run, run_unref);
    }
  if (*run == NULL)
    g_propagate_prefixed_error (error, local, "%s/%s: ",
                                datadir_path (store->dir), gen->name);
  return TRUE;
}

MqRun *
store_fetch (MqStore *store, const char *name, gsize name_len, guint64 inc,
             guint64 first, guint64 *hint, GError **error)
{
  guint8 key[MQ_SEGMENT_KEY_MAX];
  gsize key_len = record_segment_key (name, name_len, inc, first, key);
  MqRun *run = NULL;

  for (guint i = store->gens->len; i-- > 0;)
    if (store_gen (store, i)->number == *hint
        && store_fetch_from (store, store_gen (store, i), key, key_len, first,
                             &run, error))
      return run;
  for (guint i = store->gens->len; i-- > 0;)
    {
      Gen *gen = store_gen (store, i);

      if (gen->number != *hint
          && store_fetch_from (store, gen, key, key_len, first, &run, error))
        {
          *hint = gen->number;
          return run;
        }
    }
  return NULL;
}

/* ---- writing ---------------------------------------------------------- */

struct _MqPart {
  guint64 number;
  GDBM_FILE dbf;
  char *name;
};

MqPart *
store_part_new (MqDataDir *dir, guint64 number, GError **error)
{
  g_autofree char *name = store_part_name (number);
  int fd = file_create (datadir_fd (dir), name, error);
  GDBM_FILE dbf;
  MqPart *part;

  if (fd < 0 || (dbf = gen_open_fd (dir, fd, name, GDBM_NEWDB, error)) == NULL)
    return NULL;
  part = g_new (MqPart, 1);
  part->number = number;
  part->dbf = dbf;
  part->name = g_steal_pointer (&name);
  return part;
}

guint64
store_part_number (const MqPart *part)
{
  return part->number;
}

void
store_part_discard (MqDataDir *dir, MqPart *part)
{
  gdbm_close (part->dbf);
  unlinkat (datadir_fd (dir), part->name, 0);
  g_free (part->name);
  g_free (part);
}

gboolean
store_begin (MqStore *store, guint64 number, MqPart *made, GError **error)
{
  g_return_val_if_fail (made == NULL || made->number == number, FALSE);
  if (made == NULL && (made = store_part_new (store->dir, number, error))
      == NULL)
    return FALSE;
  store->part = gen_new (number, made->dbf, made->name, FALSE);
  g_free (made);
  g_ptr_array_add (store->gens, store->part);
  store->highest = MAX (store->highest, number);
  store->part_bytes = 0;
  store->part_chunks = 0;
  return TRUE;
}

static gboolean
store_put (MqStore *store, const guint8 *key, gsize key_len,
           const guint8 *value, gsize len, GError **error)
{
  datum k = { (char *) key, (int) key_len };
  datum v = { (char *) value, (int) len };

  if (gdbm_store (store->part->dbf, k, v, GDBM_REPLACE) != 0)
    return gen_error (store, store->part, error, "write to");
  store->part_bytes += key_len + len;
  return TRUE;
}

gboolean
store_put_segment (MqStore *store, const char *name, gsize name_len,
                   guint64 inc, guint64 first, GByteArray *value,
                   GError **error)
{
  guint8 key[MQ_SEGMENT_KEY_MAX];
  gsize key_len = record_segment_key (name, name_len, inc, first, key);

  if (!store_put (store, key, key_len, value->data, value->len, error))
    return FALSE;
  store->part->segments++;
  keys_append (store->part->keys, key, key_len);
  return TRUE;
}

gboolean
store_put_states (MqStore *store, GByteArray *states, gboolean last,
                  GError **error)
{
  guint8 key[MQ_META_KEY_MAX];
  gsize key_len;

  if (states->len < STORE_STATE_CHUNK && !(last && states->len > 0))
    return TRUE;
  key_len = record_meta_chunk_key (store->part_chunks, key);
  if (!store_put (store, key, key_len, states->data, states->len, error))
    return FALSE;
  store->part_chunks++;
  g_byte_array_set_size (states, 0);
  return TRUE;
}

gboolean
store_finish (MqStore *store, const MqCatalog *catalog, int *fd,
              GError **error)
{
  guint8 key[MQ_META_KEY_MAX], value[MQ_CATALOG_SIZE];
  gsize key_len = record_catalog_key (key);
  MqCatalog written = *catalog;

  written.generation = store->part->number;
  written.meta_chunks = store->part_chunks;
  record_catalog_encode (&written, value);
  if (!store_put (store, key, key_len, value, sizeof value, error))
    return FALSE;
  *fd = gdbm_fdesc (store->part->dbf);
  store->part = NULL;
  return TRUE;
}

void
store_completed (MqStore *store, guint64 number)
{
  for (guint i = 0; i < store->gens->len; i++)
    {
      Gen *gen = store_gen (store, i);

      if (gen->number == number)
        {
          gen->complete = TRUE;
          gen->live = gen->segments;
          g_free (gen->name);
          gen->name = store_file_name (number);
        }
    }
}

guint64
store_disk_bytes (MqStore *store)
{
  guint64 total = 0;

  for (guint i = 0; i < store->gens->len; i++)
    {
      struct stat st;

      if (fstat (gdbm_fdesc (store_gen (store, i)->dbf), &st) == 0)
        total += (guint64) st.st_size;
    }
  return total;
}

guint64
store_part_bytes (MqStore *store)
{
  return store->part_bytes;
}

int
store_part_fd (MqStore *store)
{
  return gdbm_fdesc (store->part->dbf);
}

/* ---- reclaiming space ------------------------------------------------- */

/* 1 for a live segment, 0 for a dead one, -1 for a key that is not a
 * segment's. */
static int
key_liveness (const datum *key, MqStoreLiveFunc live, gpointer user_data)
{
  const char *name;
  gsize name_len;
  guint64 inc, first;

  if (record_key_decode ((const guint8 *) key->dptr, key->dsize, &name,
                         &name_len, &inc, &first) != MQ_KEY_SEGMENT)
    return -1;
  return live (name, name_len, inc, first, user_data) ? 1 : 0;
}

static void
store_stop_counting (MqStore *store)
{
  store->counting = NULL;
  g_clear_pointer (&store->count_key.dptr, free);
  g_clear_pointer (&store->count_kept, g_byte_array_unref);
}

static MqStoreRetired *
store_retire (MqStore *store, Gen *gen)
{
  MqStoreRetired *retired = g_new (MqStoreRetired, 1);

  if (store->evacuating == gen)
    store->evacuating = NULL;
  if (store->counting == gen)
    store_stop_counting (store);
  retired->dbf = g_steal_pointer (&gen->dbf);
  retired->name = g_steal_pointer (&gen->name);
  g_ptr_array_remove (store->gens, gen);
  return retired;
}

/* The generation most worth emptying, or NULL. */
static Gen *
store_pick_evacuee (MqStore *store)
{
  Gen *pick = NULL;
  gdouble pick_share = STORE_EVACUATE_SHARE;

  if (store->gens->len > STORE_MAX_GENERATIONS)
    pick_share = 1.0;
  for (guint i = 0; i < store->gens->len; i++)
    {
      Gen *gen = store_gen (store, i);
      gdouble share;

      if (!gen->complete || gen->segments == 0)
        continue;
      share = (gdouble) gen->live / (gdouble) gen->segments;
      if (share < pick_share)
        {
          pick = gen;
          pick_share = share;
        }
    }
  return pick;
}

GPtrArray *
store_retire_dead (MqStore *store, gboolean all_dead)
{
  GPtrArray *retired = g_ptr_array_new_with_free_func (
    (GDestroyNotify) store_retired_free);

  for (guint i = 0; i < store->gens->len;)
    {
      Gen *gen = store_gen (store, i);

      if (gen->complete && (all_dead || gen->evacuated || gen->live == 0))
        g_ptr_array_add (retired, store_retire (store, gen));
      else
        i++;
    }
  return retired;
}

void
store_survey_start (MqStore *store)
{
  if (store->surveying)
    return;
  store->surveying = TRUE;
  store->surveyed = 0;
}

gboolean
store_surveying (MqStore *store)
{
  return store->surveying;
}

/* Begins counting the round's next generation, or ends the round. */
static void
store_count_next (MqStore *store)
{
  for (guint i = 0; i < store->gens->len; i++)
    {
      Gen *gen = store_gen (store, i);

      /* The one being evacuated keeps its key list as it is. */
      if (gen->complete && !gen->evacuated && gen != store->evacuating
          && gen->number > store->surveyed)
        {
          store->counting = gen;
          store->count_off = 0;
          if (gen->keys == NULL)
            store->count_key = gdbm_firstkey (gen->dbf);
          store->count_segments = store->count_live = 0;
          store->count_kept = g_byte_array_new ();
          return;
        }
    }
  store->surveying = FALSE;
}

static gboolean
store_count_done (MqStore *store)
{
  Gen *gen = store->counting;

  return gen->keys != NULL ? store->count_off >= gen->keys->len
    : store->count_key.dptr == NULL;
}

/* Every key of the generation being counted has been looked at, or
 * reading them failed: the round goes on with the next one.  The live
 * keys are its key list from now on.  A count of the list leaves the
 * number of segments as it was: the dead ones are no longer in it. */
static gboolean
store_count_ended (MqStore *store, GError **error)
{
  Gen *gen = store->counting;
  gboolean from_file = gen->keys == NULL;
  gdbm_error code = gdbm_last_errno (gen->dbf);
  GByteArray *kept = g_steal_pointer (&store->count_kept);

  store->surveyed = gen->number;
  store_stop_counting (store);
  if (from_file && code != GDBM_ITEM_NOT_FOUND && code != GDBM_NO_ERROR)
    {
      g_byte_array_unref (kept);
      return gen_error (store, gen, error, "read the keys of");
    }
  if (from_file)
    gen->segments = store->count_segments;
  gen->live = store->count_live;
  if (gen->keys != NULL)
    g_byte_array_unref (gen->keys);
  gen->keys = kept;
  if (store->evacuating == NULL)
    {
      store->evacuating = store_pick_evacuee (store);
      store->evac_off = 0;
    }
  return TRUE;
}

static void
store_count_key (MqStore *store, datum key, MqStoreLiveFunc live,
                 gpointer user_data)
{
  int liveness = key_liveness (&key, live, user_data);

  store->count_segments += liveness >= 0;
  if (liveness > 0)
    {
      store->count_live++;
      keys_append (store->count_kept, (const guint8 *) key.dptr, key.dsize);
    }
}

/* One step of the count: a key read from the file, or a few from the
 * generation's key list. */
static void
store_count_step (MqStore *store, MqStoreLiveFunc live, gpointer user_data)
{
  Gen *gen = store->counting;
  datum key = store->count_key;

  if (gen->keys != NULL)
    {
      for (guint i = 0; i < STORE_KEYS_PER_STEP && !store_count_done (store);
           i++)
        store_count_key (store, keys_next (gen->keys, &store->count_off),
                         live, user_data);
      return;
    }
  store_count_key (store, key, live, user_data);
  store->count_key = gdbm_nextkey (gen->dbf, key);
  free (key.dptr);
}

gboolean
store_survey_step (MqStore *store, MqStoreLiveFunc live, gpointer user_data,
                   guint budget, GError **error)
{
  for (; store->surveying && budget > 0; budget--)
    {
      if (store->counting == NULL)
        store_count_next (store);
      else if (store_count_done (store))
        {
          if (!store_count_ended (store, error))
            return FALSE;
        }
      else
        store_count_step (store, live, user_data);
    }
  return TRUE;
}

/* Copies the segment at key into the generation being written; returns
 * the bytes copied, or -1 on an error. */
static gssize
store_copy (MqStore *store, Gen *from, datum key, GError **error)
{
  datum value = gdbm_fetch (from->dbf, key);
  gboolean ok;

  if (value.dptr == NULL)
    return gen_error (store, from, error, "read from") ? 0 : -1;
  ok = store_put (store, (const guint8 *) key.dptr, key.dsize,
                  (const guint8 *) value.dptr, value.dsize, error);
  free (value.dptr);
  if (!ok)
    return -1;
  store->part->segments++;
  keys_append (store->part->keys, (const guint8 *) key.dptr, key.dsize);
  return value.dsize;
}

gboolean
store_evacuate (MqStore *store, MqStoreLiveFunc live, gpointer user_data,
                gsize budget, GError **error)
{
  Gen *gen = store->evacuating;
  gsize copied = 0;

  if (gen == NULL || store->part == NULL)
    return TRUE;
  while (store->evac_off < gen->keys->len && copied < budget)
    {
      gsize next = store->evac_off;
      datum key = keys_next (gen->keys, &next);

      if (key_liveness (&key, live, user_data) > 0)
        {
          gssize n = store_copy (store, gen, key, error);

          if (n < 0)
            return FALSE;
          copied += (gsize) n;
        }
      store->evac_off = next;
    }
  if (store->evac_off >= gen->keys->len)
    {
      gen->evacuated = TRUE;
      store->evacuating = NULL;
    }
  return TRUE;
}

void
store_retired_free (MqStoreRetired *retired)
{
  if (retired->dbf != NULL)
    gdbm_close (retired->dbf);
  g_free (retired->name);
  g_free (retired);
}

void
store_retired_dispose (MqStoreRetired *retired, int dirfd)
{
  gdbm_close (g_steal_pointer (&retired->dbf));
  unlinkat (dirfd, retired->name, 0);
  store_retired_free (retired);
}
