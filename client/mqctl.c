/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl: mqd from the shell.  See mqctl(1).
 *
 *   mqctl [-s SOCKET] COMMAND [OPTION...] [ARG...]
 *
 * Exit status: 0 done; 1 nothing there (queue empty, wait timed out, no
 * such queue); 2 usage; 3 cannot connect, connection lost or server error;
 * 4 a message was not stored (queue full or message too large).
 *
 * This file: main, the list of commands, help.  Each command is in a file
 * of its own (see mqctl.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "mqctl.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static int run_help (mqctl *ctl, int argc, char **argv);

static const ctl_command ctl_help = {
  "help", run_help, "[COMMAND]",
  "Prints the list of commands, or the help of COMMAND.\n",
};

static const ctl_command *const commands[] = {
  &ctl_push, &ctl_pop, &ctl_peek, &ctl_work, &ctl_stats, &ctl_queues,
  &ctl_delete, &ctl_flush, &ctl_ping, &ctl_version, &ctl_help,
};

static const ctl_command *
find_command (const char *name)
{
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

int
ctl_connect (mqctl *ctl)
{
  mq_status st;

  if (ctl->client != NULL)
    return EXIT_DONE;
  st = mq_connect (ctl->socket_path, &ctl->client);
  return st == MQ_OK ? EXIT_DONE : ctl_fail (ctl, st);
}

/* ---- help --------------------------------------------------------------- */

static void
general_usage (FILE *out)
{
  fputs (
"Usage: mqctl [-s SOCKET] COMMAND [OPTION...] [ARG...]\n"
"\n"
"Talks to mqd, the local message-queue daemon.\n"
"\n"
"Commands:\n"
"  push QUEUE [MESSAGE...]      add messages (arguments, or standard input)\n"
"  pop QUEUE                    take messages and print them\n"
"  peek QUEUE                   print the head message, leaving it queued\n"
"  work QUEUE -- COMMAND...     run COMMAND for each message (reliable)\n"
"  stats [QUEUE]                daemon or queue statistics (--json)\n"
"  queues                       list the queues\n"
"  delete QUEUE...              drop queues and their messages\n"
"  flush QUEUE... | --all       empty queues, keeping them\n"
"  ping                         check that the daemon answers\n"
"  version                      print the daemon's version\n"
"  help [COMMAND]               this help, or a command's\n"
"\n"
"Options:\n"
"  -s, --socket=PATH   the daemon's socket (default: $MQD_SOCKET, else\n"
"                      /run/mqd/mqd.sock for root, $XDG_RUNTIME_DIR/mqd.sock,\n"
"                      or /tmp/mqd-UID/mqd.sock)\n"
"  -h, --help          this help ('mqctl COMMAND --help' for a command)\n"
"  -V, --version       print mqctl's version\n"
"\n"
"Exit status: 0 done; 1 nothing there (queue empty, wait timed out, no such\n"
"queue); 2 usage error; 3 cannot connect, connection lost or server error;\n"
"4 message not stored (queue full or message too large).\n"
"See mqctl(1).\n", out);
}

int
ctl_command_help (const ctl_command *cmd)
{
  printf ("Usage: mqctl [-s SOCKET] %s %s\n\n%s", cmd->name, cmd->synopsis,
          cmd->help);
  return ctl_flush_stdout ();
}

static int
run_help (mqctl *ctl, int argc, char **argv)
{
  const ctl_command *cmd;

  if (argc > 2)
    return ctl_usage_error (ctl, "help takes one command name");
  if (argc < 2)
    {
      general_usage (stdout);
      return ctl_flush_stdout ();
    }
  cmd = find_command (strcmp (argv[1], "--help") == 0
                      || strcmp (argv[1], "-h") == 0 ? "help" : argv[1]);
  if (cmd == NULL)
    return ctl_usage_error (ctl, "no command '%s'", argv[1]);
  return ctl_command_help (cmd);
}

/* ---- main --------------------------------------------------------------- */

/* mqctl's own options, before the command: CTL_GO_ON, or an exit code. */
static int
main_options (mqctl *ctl, int argc, char **argv)
{
  static const struct option longs[] = {
    { "socket", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  int opt;

  /* '+': the options after the command are the command's. */
  while ((opt = getopt_long (argc, argv, "+:s:hV", longs, NULL)) != -1)
    switch (opt)
      {
      case 's':
        ctl->socket_path = optarg;
        break;
      case 'h':
        general_usage (stdout);
        return ctl_flush_stdout ();
      case 'V':
        printf ("mqctl %s (libmqclient %s)\n", PACKAGE_VERSION,
                mq_library_version ());
        return ctl_flush_stdout ();
      case ':':
        return ctl_usage_error (ctl, "option %s needs a value",
                                argv[optind - 1]);
      default:
        return ctl_usage_error (ctl, "unknown option %s", argv[optind - 1]);
      }
  return CTL_GO_ON;
}

int
main (int argc, char **argv)
{
  mqctl ctl = { NULL, NULL, NULL };
  int code = main_options (&ctl, argc, argv);

  if (code != CTL_GO_ON)
    return code;
  if (optind >= argc)
    {
      general_usage (stderr);
      return EXIT_USAGE;
    }
  ctl.command = find_command (argv[optind]);
  if (ctl.command == NULL)
    return ctl_usage_error (&ctl, "no command '%s'", argv[optind]);
  argc -= optind;
  argv += optind;
  optind = 0;                     /* glibc: start over on the command */
  code = ctl.command->run (&ctl, argc, argv);
  mq_client_free (ctl.client);
  if (fflush (stdout) != 0 && code == EXIT_DONE)
    code = EXIT_FAILED;
  return code;
}
