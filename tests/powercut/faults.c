/* faults.c: the failures the shim injects; recorder.c documents the
 * variables that switch them on. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder.h"

/* The Nth call (from 1), or the Nth and every later one ("N+"). */
struct nth
{
  long n;                       /* 0: never */
  bool onwards;
  atomic_long seen;
};

static struct nth sync_fault, rename_fault;
static long long write_limit = -1;     /* bytes; -1: none */
static atomic_llong written;
static const char *when;        /* faults only while this path exists */

static void
parse_nth (const char *name, struct nth *nth)
{
  const char *text = getenv (name);
  char *end;

  if (text == NULL || *text == '\0')
    return;
  nth->n = strtol (text, &end, 10);
  nth->onwards = strcmp (end, "+") == 0;
  if (nth->n < 1 || (*end != '\0' && !nth->onwards))
    pc_die ("a fault count is N or N+, N from 1");
}

void
pc_faults_init (void)
{
  const char *limit = getenv ("MQD_FAULT_WRITE_LIMIT");

  parse_nth ("MQD_FAULT_SYNC", &sync_fault);
  parse_nth ("MQD_FAULT_RENAME", &rename_fault);
  if (limit != NULL && *limit != '\0')
    {
      char *end;

      write_limit = strtoll (limit, &end, 10);
      if (write_limit < 0 || *end != '\0')
        pc_die ("MQD_FAULT_WRITE_LIMIT is a number of bytes");
    }
  when = getenv ("MQD_FAULT_WHEN");
  if (when != NULL && *when == '\0')
    when = NULL;
}

static bool
armed (void)
{
  return when == NULL || access (when, F_OK) == 0;
}

static bool
hit (struct nth *nth)
{
  long count;

  if (nth->n == 0 || !armed ())
    return false;
  count = atomic_fetch_add (&nth->seen, 1) + 1;
  return count == nth->n || (nth->onwards && count > nth->n);
}

bool
pc_fault_sync (void)
{
  return hit (&sync_fault);
}

bool
pc_fault_rename (void)
{
  return hit (&rename_fault);
}

/* Whether a write of len bytes to a watched file is refused (ENOSPC). */
bool
pc_fault_write (size_t len)
{
  return write_limit >= 0 && armed ()
    && atomic_load (&written) + (long long) len > write_limit;
}

void
pc_fault_wrote (size_t len)
{
  atomic_fetch_add (&written, (long long) len);
}
