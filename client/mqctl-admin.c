/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl delete, flush, ping and version: one request each (a queue). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "mqctl.h"

/* Every argument left is a valid queue name. */
static int
check_queues (const mqctl *ctl, int argc, char **argv)
{
  int code = EXIT_DONE;

  for (int i = optind; i < argc && code == EXIT_DONE; i++)
    code = ctl_check_queue (ctl, argv[i]);
  return code;
}

static int
run_delete (mqctl *ctl, int argc, char **argv)
{
  int result = EXIT_DONE;
  int code = ctl_parse_options (ctl, argc, argv, NULL, 0);

  if (code != CTL_GO_ON)
    return code;
  if (optind >= argc)
    return ctl_usage_error (ctl, "delete needs a queue name");
  if ((code = check_queues (ctl, argc, argv)) != EXIT_DONE
      || (code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  for (int i = optind; i < argc; i++)
    {
      mq_status st = mq_delete (ctl->client, argv[i]);

      if (st == MQ_OK)
        continue;
      code = ctl_fail (ctl, st);
      if (code > result)
        result = code;
      if (code == EXIT_FAILED)
        break;
    }
  return result;
}

const ctl_command ctl_delete = {
  "delete", run_delete, "QUEUE...",
"Drops each QUEUE with its messages and counters.\n"
"Exit status 1 when a queue did not exist.\n",
};

static int
run_flush (mqctl *ctl, int argc, char **argv)
{
  int all = 0;
  const ctl_option options[] = {
    { 'a', "all", NULL, &all, 1 },
  };
  int code = ctl_parse_options (ctl, argc, argv, options,
                                sizeof options / sizeof options[0]);
  mq_status st = MQ_OK;

  if (code != CTL_GO_ON)
    return code;
  if (all && optind < argc)
    return ctl_usage_error (ctl, "flush takes queue names or --all, not "
                            "both");
  if (!all && optind >= argc)
    return ctl_usage_error (ctl, "flush needs a queue name (or --all)");
  if ((code = check_queues (ctl, argc, argv)) != EXIT_DONE
      || (code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  if (all)
    st = mq_flush_all (ctl->client);
  for (int i = optind; i < argc && st == MQ_OK; i++)
    st = mq_flush (ctl->client, argv[i]);
  return st == MQ_OK ? EXIT_DONE : ctl_fail (ctl, st);
}

const ctl_command ctl_flush = {
  "flush", run_flush, "QUEUE... | --all",
"Removes every message of each QUEUE (or, with -a/--all, of every queue),\n"
"keeping the queues and their counters.\n",
};

static double
now_ms (void)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

/* ping and version: the daemon's version; ping says how fast it came. */
static int
run_version (mqctl *ctl, int argc, char **argv)
{
  const char *version;
  double start;
  mq_status st;
  int code = ctl_parse_options (ctl, argc, argv, NULL, 0);

  if (code != CTL_GO_ON)
    return code;
  if ((code = ctl_no_more_arguments (ctl, argc, argv)) != EXIT_DONE
      || (code = ctl_connect (ctl)) != EXIT_DONE)
    return code;
  start = now_ms ();
  st = mq_version (ctl->client, &version);
  if (st != MQ_OK)
    return ctl_fail (ctl, st);
  if (ctl->command == &ctl_ping)
    printf ("mqd %s at %s answered in %.3f ms\n", version,
            mq_client_socket (ctl->client), now_ms () - start);
  else
    printf ("%s\n", version);
  return ctl_flush_stdout ();
}

const ctl_command ctl_ping = {
  "ping", run_version, "",
"Checks that the daemon answers, and says how fast.\n",
};

const ctl_command ctl_version = {
  "version", run_version, "",
"Prints the daemon's version (mqctl --version prints mqctl's).\n",
};
