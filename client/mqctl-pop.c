/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl pop and peek: messages taken (or looked at) and written to
 * standard output, one as it is, several framed. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdlib.h>

#include "mqctl.h"

#define POP_BATCH 1024            /* messages per round trip */
#define NOT_GIVEN (-2)            /* an option left out */

typedef struct {
  const char *queue;
  unsigned long long count;       /* -n; 0: not given */
  int wait_ms;                    /* -w, or NOT_GIVEN */
  int follow;                     /* -f */
  int sep;                        /* after each message; -1 none */
} pop_options;

/* The options of pop or peek, then QUEUE, and a connection: CTL_GO_ON, or
 * the exit code. */
static int
pop_arguments (mqctl *ctl, int argc, char **argv, const ctl_option *options,
               size_t n, pop_options *o)
{
  int code = ctl_parse_options (ctl, argc, argv, options, n);

  if (code != CTL_GO_ON)
    return code;
  if (optind >= argc)
    return ctl_usage_error (ctl, "%s needs a queue name", ctl->command->name);
  o->queue = argv[optind++];
  if ((code = ctl_no_more_arguments (ctl, argc, argv)) != EXIT_DONE)
    return code;
  if ((code = ctl_check_queue (ctl, o->queue)) != EXIT_DONE)
    return code;
  /* One message is printed as it is; several need a frame. */
  if (o->sep == NOT_GIVEN)
    o->sep = o->count <= 1 && !o->follow ? -1 : '\n';
  code = ctl_connect (ctl);
  return code != EXIT_DONE ? code : CTL_GO_ON;
}

/* ---- pop ---------------------------------------------------------------- */

typedef struct {
  pop_options o;
  unsigned long long limit;       /* 0: no limit */
  mq_message **msgs;
  unsigned long long got;
} pop_run;

/* Takes and writes one batch; *st is the library's answer. */
static int
pop_batch (mqctl *ctl, pop_run *p, size_t batch, int timeout, mq_status *st)
{
  int code = EXIT_DONE;
  size_t n = 0;

  *st = mq_pop_many (ctl->client, p->o.queue, timeout, p->msgs, batch, &n);
  for (size_t i = 0; i < n; i++)
    {
      if (code == EXIT_DONE)
        code = ctl_print_message (p->msgs[i], p->o.sep);
      mq_message_free (p->msgs[i]);
    }
  p->got += n;
  if (code == EXIT_DONE && (p->o.follow || *st != MQ_OK))
    code = ctl_flush_stdout ();
  return code;
}

/* After a batch: CTL_GO_ON for another, else the exit code. */
static int
pop_next (mqctl *ctl, const pop_run *p, mq_status st)
{
  if (st == MQ_OK)
    return CTL_GO_ON;
  if (st == MQ_EMPTY)
    return EXIT_DONE;             /* nothing more now, or the wait ran out */
  if (p->o.follow && ctl_lost_connection (st))
    {
      /* The daemon may be restarting: keep following. */
      ctl_reconnect_later (ctl);
      return CTL_GO_ON;
    }
  return ctl_fail (ctl, st);
}

static int
pop_loop (mqctl *ctl, pop_run *p)
{
  int timeout = p->o.wait_ms != NOT_GIVEN ? p->o.wait_ms
    : p->o.follow ? MQ_WAIT_FOREVER : 0;
  int code = CTL_GO_ON;

  while (code == CTL_GO_ON)
    {
      unsigned long long left = p->limit == 0 ? POP_BATCH
        : p->limit - p->got;
      mq_status st;

      if (left == 0)
        return EXIT_DONE;
      code = pop_batch (ctl, p, left < POP_BATCH ? (size_t) left : POP_BATCH,
                        timeout, &st);
      if (code == EXIT_DONE)
        code = pop_next (ctl, p, st);
    }
  return code;
}

static int
run_pop (mqctl *ctl, int argc, char **argv)
{
  pop_run p = { .o = { NULL, 0, NOT_GIVEN, 0, NOT_GIVEN } };
  const ctl_option options[] = {
    { 'n', "count", ctl_parse_count, &p.o.count, 0 },
    { 'w', "wait", ctl_parse_seconds, &p.o.wait_ms, 0 },
    { 'f', "follow", NULL, &p.o.follow, 1 },
    { 'l', "lines", NULL, &p.o.sep, '\n' },
    { '0', "null", NULL, &p.o.sep, '\0' },
  };
  int code = pop_arguments (ctl, argc, argv, options,
                            sizeof options / sizeof options[0], &p.o);

  if (code != CTL_GO_ON)
    return code;
  p.limit = p.o.count != 0 ? p.o.count : p.o.follow ? 0 : 1;
  p.msgs = malloc (POP_BATCH * sizeof *p.msgs);
  if (p.msgs == NULL)
    {
      ctl_warn ("out of memory");
      return EXIT_FAILED;
    }
  code = pop_loop (ctl, &p);
  free (p.msgs);
  if (code == EXIT_DONE)
    code = ctl_flush_stdout ();
  if (code == EXIT_DONE && p.got == 0)
    code = EXIT_NOTHING;
  return code;
}

const ctl_command ctl_pop = {
  "pop", run_pop, "[-n COUNT] [-w SECONDS] [-f] [-l|-0] QUEUE",
"Takes messages from the head of QUEUE and writes them to standard output.\n"
"One message is written exactly as it is; several are each followed by a\n"
"newline (-l, the default for several) or a NUL byte (-0).\n"
"\n"
"  -n, --count=COUNT   take up to COUNT messages (default 1)\n"
"  -w, --wait=SECONDS  wait up to SECONDS whenever the queue is empty\n"
"  -f, --follow        keep taking messages as they come, until killed\n"
"                      (or COUNT with -n, or an empty wait with -w)\n"
"  -l, --lines         a newline after each message\n"
"  -0, --null          a NUL byte after each message\n"
"\n"
"A message is removed before it is written (at most once); use 'work' when\n"
"a message must survive a failing consumer.\n"
"Exit status: 0 some message was written; 1 none (empty queue, wait over).\n",
};

/* ---- peek --------------------------------------------------------------- */

static int
run_peek (mqctl *ctl, int argc, char **argv)
{
  pop_options o = { NULL, 0, 0, 0, NOT_GIVEN };
  const ctl_option options[] = {
    { 'w', "wait", ctl_parse_seconds, &o.wait_ms, 0 },
    { 'l', "lines", NULL, &o.sep, '\n' },
    { '0', "null", NULL, &o.sep, '\0' },
  };
  int code = pop_arguments (ctl, argc, argv, options,
                            sizeof options / sizeof options[0], &o);
  mq_message *m;
  mq_status st;

  if (code != CTL_GO_ON)
    return code;
  st = mq_peek (ctl->client, o.queue, o.wait_ms, &m);
  if (st != MQ_OK)
    return st == MQ_EMPTY ? EXIT_NOTHING : ctl_fail (ctl, st);
  code = ctl_print_message (m, o.sep);
  mq_message_free (m);
  return code != EXIT_DONE ? code : ctl_flush_stdout ();
}

const ctl_command ctl_peek = {
  "peek", run_peek, "[-w SECONDS] [-l|-0] QUEUE",
"Writes the head message of QUEUE without removing it.\n"
"\n"
"  -w, --wait=SECONDS  wait up to SECONDS for a message\n"
"  -l, --lines         a newline after the message\n"
"  -0, --null          a NUL byte after the message\n"
"\n"
"Exit status: 0 written; 1 the queue is empty.\n",
};
