/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl-json.c: JSON output (queue names are bytes, not necessarily
 * UTF-8). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "mqctl.h"

/* The length of the valid UTF-8 sequence at p after its first byte, or 0
 * when there is none. */
static size_t
utf8_tail (const unsigned char *p)
{
  size_t n = 0, k;

  if (*p >= 0xc2 && *p <= 0xdf)
    n = 1;
  else if (*p >= 0xe0 && *p <= 0xef)
    n = 2;
  else if (*p >= 0xf0 && *p <= 0xf4)
    n = 3;
  for (k = 1; k <= n && (p[k] & 0xc0) == 0x80; k++)
    ;
  return n > 0 && k == n + 1 ? n : 0;
}

void
ctl_json_string (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;

  putchar ('"');
  while (*p != '\0')
    {
      size_t n = utf8_tail (p);

      if (n > 0)
        {
          fwrite (p, 1, n + 1, stdout);
          p += n + 1;
          continue;
        }
      if (*p == '"' || *p == '\\')
        printf ("\\%c", *p);
      else if (*p < 0x20 || *p >= 0x7f)
        printf ("\\u%04x", *p);
      else
        putchar (*p);
      p++;
    }
  putchar ('"');
}

void
ctl_json_value (const char *v)
{
  const char *p = v;

  if (*p == '-')
    p++;
  if (*p >= '0' && *p <= '9' && !(p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
    {
      while (*p >= '0' && *p <= '9')
        p++;
      if (*p == '.' && p[1] >= '0' && p[1] <= '9')
        for (p++; *p >= '0' && *p <= '9'; p++)
          ;
      if (*p == '\0')
        {
          fputs (v, stdout);
          return;
        }
    }
  ctl_json_string (v);
}
