/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl-report.c: what mqctl says, its exit status, and its output. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mqctl.h"

void
ctl_warn (const char *format, ...)
{
  va_list args;

  fflush (stdout);
  fputs ("mqctl: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

int
ctl_usage_error (const mqctl *ctl, const char *format, ...)
{
  va_list args;

  fputs ("mqctl: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  if (ctl->command != NULL)
    fprintf (stderr, "\nTry 'mqctl %s --help'.\n", ctl->command->name);
  else
    fputs ("\nTry 'mqctl --help'.\n", stderr);
  return EXIT_USAGE;
}

int
ctl_exit_code (mq_status st)
{
  switch (st)
    {
    case MQ_OK:
      return EXIT_DONE;
    case MQ_EMPTY:
    case MQ_NOT_FOUND:
      return EXIT_NOTHING;
    case MQ_INVALID:
      return EXIT_USAGE;
    case MQ_NOT_STORED:
    case MQ_TOO_LARGE:
      return EXIT_REFUSED;
    case MQ_SERVER_ERROR:
    case MQ_PROTOCOL:
    case MQ_CONNECT:
    case MQ_IO:
    case MQ_NOMEM:
    case MQ_MAYBE_STORED:
      break;
    }
  return EXIT_FAILED;
}

int
ctl_worse (int a, int b)
{
  static const int rank[] = {
    [EXIT_DONE] = 0, [EXIT_NOTHING] = 1, [EXIT_REFUSED] = 2,
    [EXIT_USAGE] = 3, [EXIT_FAILED] = 4,
  };

  return rank[b] > rank[a] ? b : a;
}

int
ctl_fail (const mqctl *ctl, mq_status st)
{
  const char *detail = mq_client_error (ctl->client);

  ctl_warn ("%s", detail != NULL && *detail != '\0' ? detail
            : mq_strerror (st));
  return ctl_exit_code (st);
}

/* ---- output ------------------------------------------------------------- */

static int
write_failed (void)
{
  ctl_warn ("cannot write to standard output: %s", strerror (errno));
  return EXIT_FAILED;
}

int
ctl_print_message (const mq_message *m, int separator)
{
  if (fwrite (m->data, 1, m->len, stdout) != m->len)
    return write_failed ();
  if (separator >= 0 && putchar (separator) == EOF)
    return write_failed ();
  return EXIT_DONE;
}

int
ctl_flush_stdout (void)
{
  if (fflush (stdout) != 0)
    return write_failed ();
  return EXIT_DONE;
}

/* ---- a lost connection -------------------------------------------------- */

int
ctl_lost_connection (mq_status st)
{
  return st == MQ_IO || st == MQ_CONNECT;
}

void
ctl_reconnect_later (const mqctl *ctl)
{
  ctl_warn ("%s; connecting again in 1 s", mq_client_error (ctl->client));
  ctl_pause_ms (1000);
}

void
ctl_pause_ms (int ms)
{
  struct timespec t = { ms / 1000, (long) (ms % 1000) * 1000000L };

  while (nanosleep (&t, &t) < 0 && errno == EINTR)
    ;
}
