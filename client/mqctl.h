/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl.h: what mqctl's files share: the run's context, the exit codes,
 * the commands, one option parser, and how mqctl reports.
 *
 *   mqctl.c          main, the list of commands, help
 *   mqctl-options.c  options and arguments, for every command
 *   mqctl-report.c   messages, exit codes, output, a lost connection
 *   mqctl-push.c     push            mqctl-pop.c    pop, peek
 *   mqctl-work.c     work            mqctl-stats.c  stats, queues
 *   mqctl-json.c     JSON output     mqctl-admin.c  delete, flush, ping,
 *                                                   version
 *
 * Uses only libmqclient and libc.
 */
#pragma once

#include <stddef.h>

#include "mqclient.h"

#define CTL_PRINTF(fmt, args) __attribute__ ((format (printf, fmt, args)))

enum {
  EXIT_DONE = 0,
  EXIT_NOTHING = 1,               /* queue empty, wait over, no such queue */
  EXIT_USAGE = 2,
  EXIT_FAILED = 3,                /* cannot connect, lost, server error */
  EXIT_REFUSED = 4,               /* a message was not stored */
};

/* Not an exit code: go on. */
#define CTL_GO_ON (-1)

typedef struct ctl_command ctl_command;

/* One run of mqctl. */
typedef struct {
  const char *socket_path;        /* -s; NULL: $MQD_SOCKET or the default */
  mq_client *client;              /* connected on first use */
  const ctl_command *command;     /* the command running, or NULL */
} mqctl;

struct ctl_command {
  const char *name;
  int (*run) (mqctl *ctl, int argc, char **argv);  /* an exit code */
  const char *synopsis;
  const char *help;
};

extern const ctl_command ctl_push, ctl_pop, ctl_peek, ctl_work, ctl_stats,
  ctl_queues, ctl_delete, ctl_flush, ctl_ping, ctl_version;

/* ---- mqctl.c ------------------------------------------------------------ */

/* Prints the command's help; an exit code. */
int ctl_command_help (const ctl_command *cmd);

/* Connects on first use, so that usage errors are found without a
 * daemon; an exit code (the failure said). */
int ctl_connect (mqctl *ctl);

/* ---- mqctl-options.c ---------------------------------------------------- */

/* An option of a command: a flag (parse NULL) stores value in
 * *(int *) target; an option with a value has it parsed into target. */
typedef struct {
  char name;                      /* -n */
  const char *long_name;          /* --count */
  int (*parse) (const mqctl *ctl, const char *option, const char *arg,
                void *target);
  void *target;
  int value;
} ctl_option;

/* Parses the options of argv (and -h, --help) from optind on.
 * CTL_GO_ON: the arguments start at optind; else the exit code (the help
 * was printed, or a usage error said). */
int ctl_parse_options (const mqctl *ctl, int argc, char **argv,
                       const ctl_option *options, size_t n);

/* Value parsers for ctl_option, each saying what is wrong as the option
 * (e.g. "-n") would.  Targets: */
int ctl_parse_count (const mqctl *ctl, const char *option, const char *arg,
                     void *target);        /* unsigned long long, >= 1 */
int ctl_parse_seconds (const mqctl *ctl, const char *option,
                       const char *arg, void *target);  /* int, in ms */
int ctl_parse_flags (const mqctl *ctl, const char *option, const char *arg,
                     void *target);        /* uint32_t */
int ctl_parse_exptime (const mqctl *ctl, const char *option,
                       const char *arg, void *target);  /* int64_t */
/* Durations as in mqd's rules (500ms, 30s, 5m, 2h), in ms: */
int ctl_parse_duration (const mqctl *ctl, const char *option,
                        const char *arg, void *target);  /* int64_t */
int ctl_parse_lease (const mqctl *ctl, const char *option, const char *arg,
                     void *target);        /* int64_t, above 0 */

/* The next argument, a queue name, into *queue: EXIT_DONE, or the usage
 * error said (missing: what to say when there is none). */
int ctl_queue_argument (const mqctl *ctl, int argc, char **argv,
                        const char *missing, const char **queue);

/* A queue name argument: EXIT_DONE, or the usage error said. */
int ctl_check_queue (const mqctl *ctl, const char *queue);

/* No arguments left: EXIT_DONE, or the usage error said. */
int ctl_no_more_arguments (const mqctl *ctl, int argc, char **argv);

/* ---- mqctl-report.c ----------------------------------------------------- */

void ctl_warn (const char *format, ...) CTL_PRINTF (1, 2);

/* Says what is wrong with the command line; returns EXIT_USAGE. */
int ctl_usage_error (const mqctl *ctl, const char *format, ...)
  CTL_PRINTF (2, 3);

int ctl_exit_code (mq_status st);

/* The exit code to keep of two: a failure beats a refusal beats nothing. */
int ctl_worse (int a, int b);

/* Reports a failed call; returns its exit code. */
int ctl_fail (const mqctl *ctl, mq_status st);

/* One message, then the separator (-1: none); an exit code. */
int ctl_print_message (const mq_message *m, int separator);
int ctl_flush_stdout (void);

/* Whether st means the daemon went away (it may be restarting). */
int ctl_lost_connection (mq_status st);

/* Says the connection was lost and pauses a second before the next call
 * connects again. */
void ctl_reconnect_later (const mqctl *ctl);

/* Sleeps, whatever signals come. */
void ctl_pause_ms (int ms);

/* ---- mqctl-json.c ------------------------------------------------------- */

/* A JSON string on standard output: ASCII escaped where needed, valid
 * UTF-8 kept, other bytes as \u00XX. */
void ctl_json_string (const char *s);

/* A stat value as a JSON number when it is one, else as a string. */
void ctl_json_value (const char *v);
