/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl-options.c: one option parser for every command, from each
 * command's table of options, and the values options take. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>

#include "mqctl.h"
#include "mqshared.h"

#define MAX_OPTIONS 8             /* the most a command has */
#define MAX_WAIT_SECONDS (MQ_MAX_TIMEOUT_MS / 1000.0)

/* getopt_long's tables for options, and -h, --help. */
static void
getopt_tables (const ctl_option *options, size_t n, char *shorts,
               struct option *longs)
{
  *shorts++ = ':';
  for (size_t i = 0; i < n; i++)
    {
      *shorts++ = options[i].name;
      if (options[i].parse != NULL)
        *shorts++ = ':';
      longs[i] = (struct option) {
        options[i].long_name,
        options[i].parse != NULL ? required_argument : no_argument,
        NULL, options[i].name
      };
    }
  *shorts++ = 'h';
  *shorts = '\0';
  longs[n] = (struct option) { "help", no_argument, NULL, 'h' };
  longs[n + 1] = (struct option) { NULL, 0, NULL, 0 };
}

/* The option opt of options with its value, if it takes one. */
static int
take_option (const mqctl *ctl, const ctl_option *options, size_t n, int opt)
{
  for (size_t i = 0; i < n; i++)
    if (options[i].name == opt)
      {
        char option[3] = { '-', options[i].name, '\0' };

        if (options[i].parse == NULL)
          {
            *(int *) options[i].target = options[i].value;
            return CTL_GO_ON;
          }
        if (options[i].parse (ctl, option, optarg, options[i].target)
            != EXIT_DONE)
          return EXIT_USAGE;
        return CTL_GO_ON;
      }
  return ctl_usage_error (ctl, "bad option for %s", ctl->command->name);
}

int
ctl_parse_options (const mqctl *ctl, int argc, char **argv,
                   const ctl_option *options, size_t n)
{
  char shorts[2 * MAX_OPTIONS + 3];
  struct option longs[MAX_OPTIONS + 2];
  int opt;

  assert (n <= MAX_OPTIONS);
  getopt_tables (options, n, shorts, longs);
  while ((opt = getopt_long (argc, argv, shorts, longs, NULL)) != -1)
    {
      int code;

      if (opt == 'h')
        return ctl_command_help (ctl->command);
      if (opt == ':')
        return ctl_usage_error (ctl, "option %s needs a value",
                                argv[optind - 1]);
      code = take_option (ctl, options, n, opt);
      if (code != CTL_GO_ON)
        return code;
    }
  return CTL_GO_ON;
}

/* ---- values ------------------------------------------------------------- */

static int
parse_number (const mqctl *ctl, const char *option, const char *arg,
              unsigned long long *out)
{
  char *end;

  errno = 0;
  if (arg[0] < '0' || arg[0] > '9')
    return ctl_usage_error (ctl, "%s wants a number, not '%s'", option, arg);
  *out = strtoull (arg, &end, 10);
  if (errno != 0 || *end != '\0')
    return ctl_usage_error (ctl, "%s wants a number, not '%s'", option, arg);
  return EXIT_DONE;
}

int
ctl_parse_count (const mqctl *ctl, const char *option, const char *arg,
                 void *target)
{
  unsigned long long *count = target;

  if (parse_number (ctl, option, arg, count) != EXIT_DONE)
    return EXIT_USAGE;
  if (*count == 0)
    return ctl_usage_error (ctl, "%s wants at least 1", option);
  return EXIT_DONE;
}

/* Seconds, possibly fractional, to milliseconds. */
int
ctl_parse_seconds (const mqctl *ctl, const char *option, const char *arg,
                   void *target)
{
  int *ms = target;
  char *end;
  double s;

  errno = 0;
  s = strtod (arg, &end);
  if (errno != 0 || end == arg || *end != '\0' || !(s >= 0)
      || s > MAX_WAIT_SECONDS)
    return ctl_usage_error (ctl, "%s wants seconds from 0 to %.3f, not '%s'",
                            option, MAX_WAIT_SECONDS, arg);
  *ms = (int) (s * 1000.0 + 0.5);
  return EXIT_DONE;
}

int
ctl_parse_flags (const mqctl *ctl, const char *option, const char *arg,
                 void *target)
{
  unsigned long long v = 0;

  if (parse_number (ctl, option, arg, &v) != EXIT_DONE)
    return EXIT_USAGE;
  if (v > UINT32_MAX)
    return ctl_usage_error (ctl, "%s wants a number from 0 to 4294967295",
                            option);
  *(uint32_t *) target = (uint32_t) v;
  return EXIT_DONE;
}

/* mq_shared_parse_duration's text, up to the daemon's longest delay. */
static int
parse_duration (const mqctl *ctl, const char *option, const char *arg,
                const char *least, int64_t *ms)
{
  uint64_t v;

  if (!mq_shared_parse_duration (arg, MQ_MAX_DELAY_MS, &v))
    return ctl_usage_error (ctl, "%s wants a duration%s such as 500ms, 30s, "
                            "5m or 2h (up to " MQ_SHARED_STR (MQ_MAX_DELAY_MS)
                            "ms), not '%s'", option, least, arg);
  *ms = (int64_t) v;
  return EXIT_DONE;
}

int
ctl_parse_duration (const mqctl *ctl, const char *option, const char *arg,
                    void *target)
{
  return parse_duration (ctl, option, arg, "", target);
}

int
ctl_parse_lease (const mqctl *ctl, const char *option, const char *arg,
                 void *target)
{
  int64_t *ms = target;

  if (parse_duration (ctl, option, arg, " above 0,", ms) != EXIT_DONE)
    return EXIT_USAGE;
  if (*ms == 0)
    return ctl_usage_error (ctl, "%s wants a duration above 0, not '%s'",
                            option, arg);
  return EXIT_DONE;
}

int
ctl_parse_exptime (const mqctl *ctl, const char *option, const char *arg,
                   void *target)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0')
    return ctl_usage_error (ctl, "%s wants a number of seconds, not '%s'",
                            option, arg);
  *(int64_t *) target = v;
  return EXIT_DONE;
}

/* ---- arguments ---------------------------------------------------------- */

int
ctl_check_queue (const mqctl *ctl, const char *queue)
{
  if (!mq_valid_queue_name (queue))
    return ctl_usage_error (ctl, "invalid queue name '%s': a name is "
                            MQ_NAME_RULE, queue);
  return EXIT_DONE;
}

int
ctl_queue_argument (const mqctl *ctl, int argc, char **argv,
                    const char *missing, const char **queue)
{
  if (optind >= argc)
    return ctl_usage_error (ctl, "%s", missing);
  *queue = argv[optind++];
  return ctl_check_queue (ctl, *queue);
}

int
ctl_no_more_arguments (const mqctl *ctl, int argc, char **argv)
{
  if (optind < argc)
    return ctl_usage_error (ctl, "unexpected argument '%s'", argv[optind]);
  return EXIT_DONE;
}
