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
