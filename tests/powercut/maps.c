/* maps.c: writes through shared writable mappings of watched files.
 *
 * A store into a MAP_SHARED mapping (GDBM writes its buckets so) makes no
 * call the shim could see.  Each such mapping keeps a shadow copy of what
 * was last logged; a snapshot compares page by page and logs every page
 * that changed as a MAPWRITE record (one per page: the kernel writes dirty
 * pages back one by one, in any order).  Snapshots are taken before an
 * msync, an fsync/fdatasync/ftruncate of the mapped file, a munmap, and
 * before every reply sent on a connection, so a store is in the log before
 * anything that depends on it, but not at the moment it was made. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder.h"

struct map
{
  struct map *next;
  char *addr;
  size_t len;
  off_t offset;                 /* of the file, at addr */
  uint64_t id;                  /* the open file it was mapped through */
  int fd;                       /* its descriptor, while that is open */
  unsigned char *shadow;        /* the first shadow_len bytes, as logged */
  size_t shadow_len;
};

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map *maps;
static atomic_int map_count;

/* How much of the mapping the file backs: a page past the end of the file
 * cannot be read (SIGBUS). */
static size_t
backed_length (const struct map *map)
{
  struct stat st;

  if (pc_fd_get (map->fd).id != map->id || fstat (map->fd, &st) != 0)
    return map->shadow_len;     /* closed: the file no longer grows here */
  if (st.st_size <= map->offset)
    return 0;
  return (size_t) (st.st_size - map->offset) < map->len
    ? (size_t) (st.st_size - map->offset) : map->len;
}

static void
snapshot (struct map *map)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);
  size_t backed = backed_length (map);

  if (backed > map->shadow_len)
    {
      /* Zeros: a page the file grew by is logged unless it is all zeros,
       * which is what the file holds there anyway. */
      map->shadow = realloc (map->shadow, backed);
      if (map->shadow == NULL)
        pc_die ("out of memory for a mapping's shadow");
      memset (map->shadow + map->shadow_len, 0, backed - map->shadow_len);
    }
  for (size_t pos = 0; pos < backed; pos += page)
    {
      size_t n = backed - pos < page ? backed - pos : page;
      struct pc_args args = { map->id, -1, map->offset + (off_t) pos };

      if (memcmp (map->addr + pos, map->shadow + pos, n) == 0)
        continue;
      memcpy (map->shadow + pos, map->addr + pos, n);
      pc_log_event (PC_OP_MAPWRITE, &args, NULL, map->shadow + pos, n);
    }
  map->shadow_len = backed;
}

void
pc_maps_add (void *addr, size_t len, off_t offset, uint64_t id, int fd)
{
  struct map *map = calloc (1, sizeof *map);

  if (map == NULL)
    pc_die ("out of memory for a mapping");
  *map = (struct map) { NULL, addr, len, offset, id, fd, NULL, 0 };
  pthread_mutex_lock (&maps_lock);
  /* What the file held when it was mapped is in the log already. */
  map->shadow_len = backed_length (map);
  map->shadow = malloc (map->shadow_len + 1);
  if (map->shadow == NULL)
    pc_die ("out of memory for a mapping's shadow");
  memcpy (map->shadow, addr, map->shadow_len);
  map->next = maps;
  maps = map;
  atomic_fetch_add (&map_count, 1);
  pthread_mutex_unlock (&maps_lock);
}

/* Logs what changed in the mappings of open file id (0: of every file). */
void
pc_maps_snapshot (uint64_t id)
{
  if (atomic_load (&map_count) == 0)
    return;
  pthread_mutex_lock (&maps_lock);
  for (struct map *map = maps; map != NULL; map = map->next)
    if (id == 0 || map->id == id)
      snapshot (map);
  pthread_mutex_unlock (&maps_lock);
}

static bool
overlaps (const struct map *map, const char *addr, size_t len)
{
  return addr < map->addr + map->len && map->addr < addr + len;
}

/* The part of map past end (an address inside it) as a mapping of its own,
 * put after map in the list. */
static void
split_after (struct map *map, char *end)
{
  struct map *rest = calloc (1, sizeof *rest);
  size_t cut = end - map->addr;

  if (rest == NULL)
    pc_die ("out of memory for a mapping");
  *rest = *map;
  rest->addr = end;
  rest->len = map->len - cut;
  rest->offset = map->offset + (off_t) cut;
  rest->shadow_len = map->shadow_len > cut ? map->shadow_len - cut : 0;
  rest->shadow = malloc (rest->shadow_len + 1);
  if (rest->shadow == NULL)
    pc_die ("out of memory for a mapping's shadow");
  memcpy (rest->shadow, map->shadow + cut, rest->shadow_len);
  map->len = cut;
  map->shadow_len = map->shadow_len < cut ? map->shadow_len : cut;
  map->next = rest;
  atomic_fetch_add (&map_count, 1);
}

/* Before munmap: what the pages hold goes to the log (they stay in the
 * page cache), and the range is forgotten. */
void
pc_maps_unmap (void *start, size_t len)
{
  char *addr = start;
  struct map **link;

  if (atomic_load (&map_count) == 0)
    return;
  pthread_mutex_lock (&maps_lock);
  for (link = &maps; *link != NULL;)
    {
      struct map *map = *link;

      if (!overlaps (map, addr, len))
        {
          link = &map->next;
          continue;
        }
      snapshot (map);
      if (addr + len < map->addr + map->len)
        split_after (map, addr + len);
      if (map->addr < addr)
        {
          split_after (map, addr);
          link = &map->next;
          continue;             /* the part before stays; the next is cut */
        }
      *link = map->next;
      free (map->shadow);
      free (map);
      atomic_fetch_sub (&map_count, 1);
    }
  pthread_mutex_unlock (&maps_lock);
}

/* For msync: the open file and file offset of the mapping holding addr,
 * after logging what changed in it. */
bool
pc_maps_find (void *start, size_t len, uint64_t *id, int64_t *offset)
{
  char *addr = start;
  bool found = false;

  if (atomic_load (&map_count) == 0)
    return false;
  pthread_mutex_lock (&maps_lock);
  for (struct map *map = maps; map != NULL && !found; map = map->next)
    if (overlaps (map, addr, len))
      {
        snapshot (map);
        *id = map->id;
        *offset = map->offset + (addr > map->addr ? addr - map->addr : 0);
        found = true;
      }
  pthread_mutex_unlock (&maps_lock);
  return found;
}
