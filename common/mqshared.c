/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqshared.c: see mqshared.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqshared.h"

size_t
mq_shared_default_socket (char *buf, size_t size)
{
  const char *runtime = getenv ("XDG_RUNTIME_DIR");
  size_t len;
  int n;

  if (getuid () == 0)
    n = snprintf (buf, size, "/run/mqd/mqd.sock");
  else if (runtime == NULL || *runtime == '\0')
    n = snprintf (buf, size, "/tmp/mqd-%u/mqd.sock", (unsigned) getuid ());
  else
    {
      /* As g_build_filename joins them: one '/' between the parts, and a
       * directory of nothing but slashes kept as it is. */
      len = strlen (runtime);
      while (len > 0 && runtime[len - 1] == '/')
        len--;
      if (len == 0)
        n = snprintf (buf, size, "%smqd.sock", runtime);
      else
        n = snprintf (buf, size, "%.*s/mqd.sock", (int) len, runtime);
    }
  return n < 0 ? 0 : (size_t) n;
}

int
mq_shared_parse_duration (const char *text, uint64_t max_ms, uint64_t *ms)
{
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
    { "", 1000 },
  };
  const char *p = text;
  uint64_t n = 0;

  if (text == NULL || *p < '0' || *p > '9')
    return 0;
  for (; *p >= '0' && *p <= '9'; p++)
    {
      unsigned d = (unsigned) (*p - '0');

      if (n > (UINT64_MAX - d) / 10)
        return 0;
      n = n * 10 + d;
    }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcmp (p, units[i].unit) == 0)
      {
        if (n > max_ms / units[i].ms)
          return 0;
        *ms = n * units[i].ms;
        return 1;
      }
  return 0;
}
