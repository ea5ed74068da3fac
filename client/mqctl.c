/* SPDX-License-Identifier: MIT (see client/COPYING) */
/* mqctl: mqd from the shell.  See mqctl(1).
 *
 *   mqctl [-s SOCKET] COMMAND [OPTION...] [ARG...]
 *
 * Exit status: 0 done; 1 nothing there (queue empty, wait timed out, no
 * such queue); 2 usage; 3 cannot connect, connection lost or server error;
 * 4 a message was not stored (queue full or message too large).
 *
 * Uses only libmqclient and libc.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE               /* pipe2 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqclient.h"
#include "mqshared.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
  EXIT_DONE = 0,
  EXIT_NOTHING = 1,
  EXIT_USAGE = 2,
  EXIT_FAILED = 3,
  EXIT_REFUSED = 4,
};

#define POP_BATCH 1024            /* messages per round trip */
#define PUSH_BATCH_BYTES (1 << 20)
#define MAX_WAIT_SECONDS (MQ_MAX_TIMEOUT_MS / 1000.0)

static const char *socket_path;   /* -s; NULL: $MQD_SOCKET or the default */
static mq_client *client;
static const char *command_name = "";

/* ---- messages and exit codes ------------------------------------------- */

static void
warn (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static void
warn (const char *format, ...)
{
  va_list args;

  fflush (stdout);
  fputs ("mqctl: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

static int
usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
usage_error (const char *format, ...)
{
  va_list args;

  fputs ("mqctl: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  if (*command_name != '\0')
    fprintf (stderr, "\nTry 'mqctl %s --help'.\n", command_name);
  else
    fputs ("\nTry 'mqctl --help'.\n", stderr);
  return EXIT_USAGE;
}

static int
exit_code (mq_status st)
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

/* The exit code to keep of two: a failure beats a refusal beats nothing. */
static int
worse (int a, int b)
{
  static const int rank[] = {
    [EXIT_DONE] = 0, [EXIT_NOTHING] = 1, [EXIT_REFUSED] = 2,
    [EXIT_USAGE] = 3, [EXIT_FAILED] = 4,
  };

  return rank[b] > rank[a] ? b : a;
}

/* Reports a failed call; returns its exit code. */
static int
fail (mq_status st)
{
  const char *detail = mq_client_error (client);

  warn ("%s", detail != NULL && *detail != '\0' ? detail : mq_strerror (st));
  return exit_code (st);
}

/* Connects on first use, so that usage errors are found without a daemon. */
static mq_status
connect_client (void)
{
  if (client != NULL)
    return MQ_OK;
  return mq_connect (socket_path, &client);
}

static int
check_queue_arg (const char *queue)
{
  if (!mq_valid_queue_name (queue))
    return usage_error ("invalid queue name '%s': a name is " MQ_NAME_RULE,
                        queue);
  return EXIT_DONE;
}

/* ---- argument parsing -------------------------------------------------- */

static int
parse_count (const char *text, const char *option, unsigned long long *out)
{
  char *end;

  errno = 0;
  if (text[0] < '0' || text[0] > '9')
    return usage_error ("%s wants a number, not '%s'", option, text);
  *out = strtoull (text, &end, 10);
  if (errno != 0 || *end != '\0')
    return usage_error ("%s wants a number, not '%s'", option, text);
  return EXIT_DONE;
}

/* Seconds, possibly fractional, to milliseconds. */
static int
parse_seconds (const char *text, const char *option, int *ms)
{
  char *end;
  double s;

  errno = 0;
  s = strtod (text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(s >= 0)
      || s > MAX_WAIT_SECONDS)
    return usage_error ("%s wants seconds from 0 to %.3f, not '%s'", option,
                        MAX_WAIT_SECONDS, text);
  *ms = (int) (s * 1000.0 + 0.5);
  return EXIT_DONE;
}

static int
parse_flags (const char *text, uint32_t *flags)
{
  unsigned long long v = 0;

  if (parse_count (text, "-F", &v) != EXIT_DONE)
    return EXIT_USAGE;
  if (v > UINT32_MAX)
    return usage_error ("-F wants a number from 0 to 4294967295");
  *flags = (uint32_t) v;
  return EXIT_DONE;
}

static int
parse_exptime (const char *text, int64_t *exptime)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return usage_error ("-e wants a number of seconds, not '%s'", text);
  *exptime = v;
  return EXIT_DONE;
}

/* ---- output ------------------------------------------------------------ */

static int
write_failed (void)
{
  warn ("cannot write to standard output: %s", strerror (errno));
  return EXIT_FAILED;
}

/* One message, then the separator (-1: none). */
static int
print_message (const mq_message *m, int separator)
{
  if (fwrite (m->data, 1, m->len, stdout) != m->len)
    return write_failed ();
  if (separator >= 0 && putchar (separator) == EOF)
    return write_failed ();
  return EXIT_DONE;
}

static int
flush_stdout (void)
{
  if (fflush (stdout) != 0)
    return write_failed ();
  return EXIT_DONE;
}

/* ---- help -------------------------------------------------------------- */

struct command {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *synopsis;
  const char *help;
};

static const struct command *find_command (const char *name);

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

static int
command_help (const struct command *cmd)
{
  printf ("Usage: mqctl [-s SOCKET] %s %s\n\n%s", cmd->name, cmd->synopsis,
          cmd->help);
  return flush_stdout ();
}

/* Handles the options every command has (-h/--help); returns -1 to go on. */
#define COMMON_LONG_OPTIONS { "help", no_argument, NULL, 'h' }

static int
unknown_option (int opt, char **argv)
{
  if (opt == '?')
    return usage_error ("bad option for %s", command_name);
  return usage_error ("option %s of %s is not handled", argv[optind - 1],
                      command_name);
}

/* ---- push -------------------------------------------------------------- */

struct push_state {
  const char *queue;
  uint32_t flags;
  int64_t exptime;
  unsigned long long pushed;      /* messages handed to the library */
  unsigned long long stored;      /* of which stored */
  int code;                       /* worst exit code so far */
  int stop;                       /* the connection broke: stop reading */
};

static void
push_batch (struct push_state *ps, const mq_buffer *msgs, size_t n)
{
  mq_status *results;
  size_t stored;
  mq_status st;

  if (n == 0 || ps->stop)
    return;
  results = malloc (n * sizeof *results);
  if (results == NULL)
    {
      warn ("out of memory");
      ps->code = EXIT_FAILED;
      ps->stop = 1;
      return;
    }
  st = mq_push_many (client, ps->queue, msgs, n, ps->flags, ps->exptime,
                     results, &stored);
  ps->stored += stored;
  if (st != MQ_OK)
    {
      int reported = 0;

      /* The first failure with its details, the others counted by kind. */
      warn ("push %s: %s", ps->queue, mq_client_error (client));
      for (size_t i = 0; i < n; i++)
        {
          if (results[i] == MQ_OK)
            continue;
          ps->code = worse (ps->code, exit_code (results[i]));
          if (results[i] == MQ_IO || results[i] == MQ_MAYBE_STORED
              || results[i] == MQ_CONNECT)
            ps->stop = 1;
          if (reported++ > 0 && reported <= 10)
            warn ("push %s: message %llu: %s", ps->queue,
                  ps->pushed + i + 1, mq_strerror (results[i]));
        }
      if (ps->stop)
        warn ("push %s: %llu messages stored before the connection was lost",
              ps->queue, ps->stored);
    }
  ps->pushed += n;
  free (results);
}

/* Reads standard input; each part ended by sep is a message (the last one
 * may lack its end).  Reads as much as is there before pushing it all with
 * one pipelined call. */
static int
push_separated (struct push_state *ps, char sep)
{
  size_t cap = PUSH_BATCH_BYTES, len = 0;
  char *buf = malloc (cap);
  mq_buffer *msgs = NULL;
  size_t msgs_cap = 0;
  int eof = 0;

  if (buf == NULL)
    {
      warn ("out of memory");
      return EXIT_FAILED;
    }
  while (!eof && !ps->stop)
    {
      size_t start = 0, n = 0;
      struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };

      /* Fill the buffer with whatever is ready, then push. */
      do
        {
          ssize_t r;

          if (len == cap)
            {
              char *bigger = cap > SIZE_MAX / 2 ? NULL : realloc (buf, cap * 2);

              if (bigger == NULL)
                {
                  warn ("out of memory for a message");
                  free (buf);
                  free (msgs);
                  return EXIT_FAILED;
                }
              buf = bigger;
              cap *= 2;
            }
          r = read (STDIN_FILENO, buf + len, cap - len);
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            {
              warn ("cannot read standard input: %s", strerror (errno));
              free (buf);
              free (msgs);
              return EXIT_FAILED;
            }
          if (r == 0)
            eof = 1;
          len += (size_t) r;
        }
      while (!eof && len < cap / 2 && poll (&p, 1, 0) > 0);

      for (size_t i = 0; i < len; i++)
        {
          if (buf[i] != sep)
            continue;
          if (n == msgs_cap)
            {
              size_t bigger_cap = msgs_cap > 0 ? msgs_cap * 2 : 4096;
              mq_buffer *bigger = realloc (msgs, bigger_cap * sizeof *msgs);

              if (bigger == NULL)
                {
                  warn ("out of memory");
                  free (buf);
                  free (msgs);
                  return EXIT_FAILED;
                }
              msgs = bigger;
              msgs_cap = bigger_cap;
            }
          msgs[n++] = (mq_buffer) { buf + start, i - start };
          start = i + 1;
        }
      if (eof && start < len)
        {
          mq_buffer last = { buf + start, len - start };

          push_batch (ps, msgs, n);
          push_batch (ps, &last, 1);
          n = 0;
          start = len;
        }
      push_batch (ps, msgs, n);
      memmove (buf, buf + start, len - start);
      len -= start;
    }
  free (buf);
  free (msgs);
  return ps->code;
}

static int
push_whole_input (struct push_state *ps)
{
  size_t cap = 65536, len = 0;
  char *buf = malloc (cap);
  mq_buffer one;

  for (;;)
    {
      ssize_t r;

      if (buf != NULL && len == cap)
        {
          char *bigger = cap > SIZE_MAX / 2 ? NULL : realloc (buf, cap * 2);

          if (bigger == NULL)
            free (buf);
          buf = bigger;
          cap *= 2;
        }
      if (buf == NULL)
        {
          warn ("out of memory for the message");
          return EXIT_FAILED;
        }
      r = read (STDIN_FILENO, buf + len, cap - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          warn ("cannot read standard input: %s", strerror (errno));
          free (buf);
          return EXIT_FAILED;
        }
      if (r == 0)
        break;
      len += (size_t) r;
    }
  one = (mq_buffer) { buf, len };
  push_batch (ps, &one, 1);
  free (buf);
  return ps->code;
}

static int
run_push (int argc, char **argv)
{
  static const struct option longs[] = {
    { "lines", no_argument, NULL, 'l' },
    { "null", no_argument, NULL, '0' },
    { "flags", required_argument, NULL, 'F' },
    { "expire", required_argument, NULL, 'e' },
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  struct push_state ps = { 0 };
  int sep = -1;
  int opt, code;
  mq_status st;

  while ((opt = getopt_long (argc, argv, ":l0F:e:h", longs, NULL)) != -1)
    switch (opt)
      {
      case 'l':
        sep = '\n';
        break;
      case '0':
        sep = '\0';
        break;
      case 'F':
        if (parse_flags (optarg, &ps.flags) != EXIT_DONE)
          return EXIT_USAGE;
        break;
      case 'e':
        if (parse_exptime (optarg, &ps.exptime) != EXIT_DONE)
          return EXIT_USAGE;
        break;
      case 'h':
        return command_help (find_command ("push"));
      case ':':
        return usage_error ("option %s needs a value", argv[optind - 1]);
      default:
        return unknown_option (opt, argv);
      }
  if (optind >= argc)
    return usage_error ("push needs a queue name");
  ps.queue = argv[optind++];
  if ((code = check_queue_arg (ps.queue)) != EXIT_DONE)
    return code;
  if (optind < argc && sep >= 0)
    return usage_error ("-l and -0 frame standard input: give messages as "
                        "arguments or on standard input, not both");
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);

  if (optind < argc)
    {
      size_t n = (size_t) (argc - optind);
      mq_buffer *msgs = malloc (n * sizeof *msgs);

      if (msgs == NULL)
        {
          warn ("out of memory");
          return EXIT_FAILED;
        }
      for (size_t i = 0; i < n; i++)
        msgs[i] = (mq_buffer) { argv[optind + (int) i],
                                strlen (argv[optind + (int) i]) };
      push_batch (&ps, msgs, n);
      free (msgs);
      return ps.code;
    }
  if (sep >= 0)
    return push_separated (&ps, (char) sep);
  return push_whole_input (&ps);
}

/* ---- pop and peek ------------------------------------------------------ */

/* Sleeps, whatever signals come (a pause before reconnecting). */
static void
pause_ms (int ms)
{
  struct timespec t = { ms / 1000, (long) (ms % 1000) * 1000000L };

  while (nanosleep (&t, &t) < 0 && errno == EINTR)
    ;
}

static int
lost_connection (mq_status st)
{
  return st == MQ_IO || st == MQ_CONNECT;
}

static int
run_pop_or_peek (int argc, char **argv, int peek)
{
  static const struct option longs[] = {
    { "count", required_argument, NULL, 'n' },
    { "wait", required_argument, NULL, 'w' },
    { "follow", no_argument, NULL, 'f' },
    { "lines", no_argument, NULL, 'l' },
    { "null", no_argument, NULL, '0' },
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  const char *opts = peek ? ":w:l0h" : ":n:w:fl0h";
  unsigned long long count = 1, got = 0;
  int have_count = 0, follow = 0, wait_ms = 0, have_wait = 0;
  int sep = -2;                   /* -2: not chosen */
  mq_message **msgs = NULL;
  const char *queue;
  int opt, code = EXIT_DONE;
  mq_status st;

  while ((opt = getopt_long (argc, argv, opts, longs, NULL)) != -1)
    switch (opt)
      {
      case 'n':
        if (parse_count (optarg, "-n", &count) != EXIT_DONE)
          return EXIT_USAGE;
        if (count == 0)
          return usage_error ("-n wants at least 1");
        have_count = 1;
        break;
      case 'w':
        if (parse_seconds (optarg, "-w", &wait_ms) != EXIT_DONE)
          return EXIT_USAGE;
        have_wait = 1;
        break;
      case 'f':
        follow = 1;
        break;
      case 'l':
        sep = '\n';
        break;
      case '0':
        sep = '\0';
        break;
      case 'h':
        return command_help (find_command (peek ? "peek" : "pop"));
      case ':':
        return usage_error ("option %s needs a value", argv[optind - 1]);
      default:
        return unknown_option (opt, argv);
      }
  if (optind >= argc)
    return usage_error ("%s needs a queue name", command_name);
  queue = argv[optind++];
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]);
  if ((code = check_queue_arg (queue)) != EXIT_DONE)
    return code;
  /* One message is printed as it is; several need a frame. */
  if (sep == -2)
    sep = (count == 1 && !follow) ? -1 : '\n';
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);

  if (peek)
    {
      mq_message *m;

      st = mq_peek (client, queue, wait_ms, &m);
      if (st != MQ_OK)
        return st == MQ_EMPTY ? EXIT_NOTHING : fail (st);
      code = print_message (m, sep);
      mq_message_free (m);
      return code != EXIT_DONE ? code : flush_stdout ();
    }

  msgs = malloc (POP_BATCH * sizeof *msgs);
  if (msgs == NULL)
    {
      warn ("out of memory");
      return EXIT_FAILED;
    }
  for (;;)
    {
      unsigned long long left = (follow && !have_count) ? POP_BATCH
        : count - got;
      size_t batch = left < POP_BATCH ? (size_t) left : POP_BATCH;
      int timeout = have_wait ? wait_ms : follow ? MQ_WAIT_FOREVER : 0;
      size_t n = 0;

      if (batch == 0)
        break;
      st = mq_pop_many (client, queue, timeout, msgs, batch, &n);
      for (size_t i = 0; i < n; i++)
        {
          if (code == EXIT_DONE)
            code = print_message (msgs[i], sep);
          mq_message_free (msgs[i]);
        }
      got += n;
      if (code == EXIT_DONE && (follow || st != MQ_OK))
        code = flush_stdout ();
      if (code != EXIT_DONE)
        break;
      if (st == MQ_OK)
        continue;
      if (st == MQ_EMPTY)
        break;                    /* nothing more now, or the wait ran out */
      if (follow && lost_connection (st))
        {
          /* The daemon may be restarting: keep following. */
          warn ("%s; connecting again in 1 s", mq_client_error (client));
          pause_ms (1000);
          continue;
        }
      code = fail (st);
      break;
    }
  free (msgs);
  if (code == EXIT_DONE)
    code = flush_stdout ();
  if (code == EXIT_DONE && got == 0)
    code = EXIT_NOTHING;
  return code;
}

static int
run_pop (int argc, char **argv)
{
  return run_pop_or_peek (argc, argv, 0);
}

static int
run_peek (int argc, char **argv)
{
  return run_pop_or_peek (argc, argv, 1);
}

/* ---- work -------------------------------------------------------------- */

/* Feeds the message to the command's standard input and waits for it.
 * Returns its exit status (128 + signal when killed), or -1 with errno
 * set when it could not be started. */
static int
run_worker_command (char **command, const char *queue, const mq_message *m)
{
  int in[2], err[2];
  int child_errno = 0;
  const char *p = m->data;
  size_t left = m->len;
  ssize_t r;
  pid_t pid;
  int status;

  if (pipe2 (in, O_CLOEXEC) < 0)
    return -1;
  if (pipe2 (err, O_CLOEXEC) < 0)
    {
      close (in[0]);
      close (in[1]);
      return -1;
    }
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;

      close (in[0]);
      close (in[1]);
      close (err[0]);
      close (err[1]);
      errno = e;
      return -1;
    }
  if (pid == 0)
    {
      char flags[16];

      snprintf (flags, sizeof flags, "%" PRIu32, m->flags);
      if (dup2 (in[0], STDIN_FILENO) < 0)
        _exit (127);
      signal (SIGPIPE, SIG_DFL);
      setenv ("MQCTL_QUEUE", queue, 1);
      setenv ("MQCTL_FLAGS", flags, 1);
      execvp (command[0], command);
      child_errno = errno;
      r = write (err[1], &child_errno, sizeof child_errno);
      (void) r;
      _exit (127);
    }
  close (in[0]);
  close (err[1]);
  /* exec closes err[1] (close-on-exec): end of file means it started. */
  do
    r = read (err[0], &child_errno, sizeof child_errno);
  while (r < 0 && errno == EINTR);
  close (err[0]);
  if (r == (ssize_t) sizeof child_errno)
    {
      close (in[1]);
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      errno = child_errno;
      return -1;
    }
  /* A command that does not read all of its input is its own business:
   * EPIPE just ends the writing (SIGPIPE is ignored). */
  while (left > 0)
    {
      r = write (in[1], p, left);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      p += r;
      left -= (size_t) r;
    }
  close (in[1]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return 127;
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + WTERMSIG (status);
}

static int
run_work (int argc, char **argv)
{
  static const struct option longs[] = {
    { "wait", required_argument, NULL, 'w' },
    { "count", required_argument, NULL, 'n' },
    { "delay", required_argument, NULL, 'd' },
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  unsigned long long count = 0, done = 0, handled = 0;
  int wait_ms = MQ_WAIT_FOREVER, delay_ms = 1000;
  struct sigaction ignore;
  const char *queue;
  char **command;
  int opt, code;
  mq_status st;

  while ((opt = getopt_long (argc, argv, ":w:n:d:h", longs, NULL)) != -1)
    switch (opt)
      {
      case 'w':
        if (parse_seconds (optarg, "-w", &wait_ms) != EXIT_DONE)
          return EXIT_USAGE;
        break;
      case 'n':
        if (parse_count (optarg, "-n", &count) != EXIT_DONE)
          return EXIT_USAGE;
        if (count == 0)
          return usage_error ("-n wants at least 1");
        break;
      case 'd':
        if (parse_seconds (optarg, "-d", &delay_ms) != EXIT_DONE)
          return EXIT_USAGE;
        break;
      case 'h':
        return command_help (find_command ("work"));
      case ':':
        return usage_error ("option %s needs a value", argv[optind - 1]);
      default:
        return unknown_option (opt, argv);
      }
  if (optind >= argc)
    return usage_error ("work needs a queue name and a command");
  queue = argv[optind++];
  if ((code = check_queue_arg (queue)) != EXIT_DONE)
    return code;
  if (optind >= argc)
    return usage_error ("work needs a command to run: mqctl work %s -- "
                        "COMMAND [ARG...]", queue);
  command = argv + optind;
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);

  memset (&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigaction (SIGPIPE, &ignore, NULL);

  while (count == 0 || done < count)
    {
      mq_message *m;
      int status;

      st = mq_pop_open (client, queue, wait_ms, &m);
      if (st == MQ_EMPTY)
        break;
      if (lost_connection (st))
        {
          warn ("%s; connecting again in 1 s", mq_client_error (client));
          pause_ms (1000);
          continue;
        }
      if (st != MQ_OK)
        return fail (st);
      handled++;
      status = run_worker_command (command, queue, m);
      mq_message_free (m);
      if (status == 0)
        {
          st = mq_ack (client, queue);
          if (st != MQ_OK)
            warn ("%s (the message will be delivered again)",
                  mq_client_error (client));
          else
            done++;
          continue;
        }
      if (status < 0)
        {
          int e = errno;

          /* Given back either way: the connection closes at exit. */
          mq_abort (client, queue);
          warn ("cannot run %s: %s; the message was given back to %s",
                command[0], strerror (e), queue);
          return EXIT_USAGE;
        }
      st = mq_abort (client, queue);
      if (st != MQ_OK)
        warn ("%s exited with status %d, and giving the message back "
              "failed: %s", command[0], status, mq_client_error (client));
      else
        warn ("%s exited with status %d: the message was given back to %s",
              command[0], status, queue);
      if (delay_ms > 0)
        pause_ms (delay_ms);
    }
  return handled > 0 ? EXIT_DONE : EXIT_NOTHING;
}

/* ---- stats and queues -------------------------------------------------- */

/* A JSON string: ASCII escaped where needed, valid UTF-8 kept, other
 * bytes as \u00XX (queue names are bytes, not necessarily UTF-8). */
static void
json_string (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;

  putchar ('"');
  while (*p != '\0')
    {
      size_t n = 0;

      if (*p >= 0xc2 && *p <= 0xdf)
        n = 1;
      else if (*p >= 0xe0 && *p <= 0xef)
        n = 2;
      else if (*p >= 0xf0 && *p <= 0xf4)
        n = 3;
      if (n > 0)
        {
          size_t k;

          for (k = 1; k <= n && (p[k] & 0xc0) == 0x80; k++)
            ;
          if (k == n + 1)
            {
              fwrite (p, 1, n + 1, stdout);
              p += n + 1;
              continue;
            }
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

/* A stat value as a JSON number when it is one, else as a string. */
static void
json_value (const char *v)
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
  json_string (v);
}

static const char *const info_names[] = {
  "items", "bytes", "total_items", "dequeued", "open_transactions",
  "waiters", "expired", "discarded", "age_ms",
};
#define N_INFO (sizeof info_names / sizeof info_names[0])

static void
info_values (const mq_queue_info *q, uint64_t v[N_INFO])
{
  v[0] = q->items;
  v[1] = q->bytes;
  v[2] = q->total_items;
  v[3] = q->dequeued;
  v[4] = q->open_transactions;
  v[5] = q->waiters;
  v[6] = q->expired;
  v[7] = q->discarded;
  v[8] = q->age_ms;
}

static void
json_queue_fields (const mq_queue_info *q)
{
  uint64_t v[N_INFO];

  info_values (q, v);
  for (size_t i = 0; i < N_INFO; i++)
    printf ("%s\"%s\": %" PRIu64, i > 0 ? ", " : "", info_names[i], v[i]);
}

static int
stats_one_queue (const char *queue, int json)
{
  mq_queue_info q;
  mq_status st = mq_queue_stats (client, queue, &q);
  uint64_t v[N_INFO];

  if (st != MQ_OK)
    return fail (st);
  if (json)
    {
      fputs ("{\"name\": ", stdout);
      json_string (queue);
      fputs (", ", stdout);
      json_queue_fields (&q);
      fputs ("}\n", stdout);
      return flush_stdout ();
    }
  info_values (&q, v);
  printf ("%-18s %s\n", "queue", queue);
  for (size_t i = 0; i < N_INFO; i++)
    printf ("%-18s %" PRIu64 "\n", info_names[i], v[i]);
  return flush_stdout ();
}

static int
stats_all (int json)
{
  static const char *const heads[] = {
    "ITEMS", "BYTES", "TOTAL", "DEQUEUED", "OPEN", "WAITERS", "EXPIRED",
    "DISCARDED", "AGE_MS",
  };
  mq_stat *stats;
  mq_queue_info *queues;
  size_t n_stats, n_queues;
  int width[N_INFO + 1];
  int first = 1;
  mq_status st;

  st = mq_stats (client, &stats, &n_stats);
  if (st != MQ_OK)
    return fail (st);
  st = mq_list_queues (client, &queues, &n_queues);
  if (st != MQ_OK)
    {
      mq_stats_free (stats, n_stats);
      return fail (st);
    }
  if (json)
    {
      fputs ("{\"server\": {", stdout);
      for (size_t i = 0; i < n_stats; i++)
        {
          if (strncmp (stats[i].name, "queue_", 6) == 0)
            continue;
          fputs (first ? "" : ", ", stdout);
          first = 0;
          json_string (stats[i].name);
          fputs (": ", stdout);
          json_value (stats[i].value);
        }
      fputs ("}, \"queues\": {", stdout);
      for (size_t i = 0; i < n_queues; i++)
        {
          fputs (i > 0 ? ", " : "", stdout);
          json_string (queues[i].name);
          fputs (": {", stdout);
          json_queue_fields (&queues[i]);
          fputs ("}", stdout);
        }
      fputs ("}}\n", stdout);
    }
  else
    {
      for (size_t i = 0; i < n_stats; i++)
        if (strncmp (stats[i].name, "queue_", 6) != 0)
          printf ("%-20s %s\n", stats[i].name, stats[i].value);
      if (n_queues > 0)
        {
          width[0] = 5;
          for (size_t i = 0; i < n_queues; i++)
            if ((int) strlen (queues[i].name) > width[0])
              width[0] = (int) strlen (queues[i].name);
          for (size_t c = 0; c < N_INFO; c++)
            {
              width[c + 1] = (int) strlen (heads[c]);
              for (size_t i = 0; i < n_queues; i++)
                {
                  uint64_t v[N_INFO];
                  char num[24];
                  int len;

                  info_values (&queues[i], v);
                  len = snprintf (num, sizeof num, "%" PRIu64, v[c]);
                  if (len > width[c + 1])
                    width[c + 1] = len;
                }
            }
          printf ("\n%-*s", width[0], "QUEUE");
          for (size_t c = 0; c < N_INFO; c++)
            printf ("  %*s", width[c + 1], heads[c]);
          putchar ('\n');
          for (size_t i = 0; i < n_queues; i++)
            {
              uint64_t v[N_INFO];

              info_values (&queues[i], v);
              printf ("%-*s", width[0], queues[i].name);
              for (size_t c = 0; c < N_INFO; c++)
                printf ("  %*" PRIu64, width[c + 1], v[c]);
              putchar ('\n');
            }
        }
    }
  mq_stats_free (stats, n_stats);
  mq_queue_list_free (queues, n_queues);
  return flush_stdout ();
}

static int
run_stats (int argc, char **argv)
{
  static const struct option longs[] = {
    { "json", no_argument, NULL, 'j' },
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  const char *queue = NULL;
  int json = 0;
  int opt, code;
  mq_status st;

  while ((opt = getopt_long (argc, argv, ":jh", longs, NULL)) != -1)
    switch (opt)
      {
      case 'j':
        json = 1;
        break;
      case 'h':
        return command_help (find_command ("stats"));
      default:
        return unknown_option (opt, argv);
      }
  if (optind < argc)
    {
      queue = argv[optind++];
      if ((code = check_queue_arg (queue)) != EXIT_DONE)
        return code;
    }
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]);
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);
  return queue != NULL ? stats_one_queue (queue, json) : stats_all (json);
}

/* Commands with no options but --help. */
static int
simple_options (int argc, char **argv, const char *name)
{
  static const struct option longs[] = {
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int opt;

  while ((opt = getopt_long (argc, argv, ":h", longs, NULL)) != -1)
    {
      if (opt == 'h')
        {
          command_help (find_command (name));
          return -1;
        }
      return unknown_option (opt, argv);
    }
  return EXIT_DONE;
}

static int
run_queues (int argc, char **argv)
{
  mq_queue_info *queues;
  size_t n;
  int code = simple_options (argc, argv, "queues");
  mq_status st;

  if (code != EXIT_DONE)
    return code < 0 ? EXIT_DONE : code;
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]);
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);
  st = mq_list_queues (client, &queues, &n);
  if (st != MQ_OK)
    return fail (st);
  for (size_t i = 0; i < n; i++)
    printf ("%s\n", queues[i].name);
  mq_queue_list_free (queues, n);
  return flush_stdout ();
}

static int
run_delete (int argc, char **argv)
{
  int code = simple_options (argc, argv, "delete");
  int result = EXIT_DONE;
  mq_status st;

  if (code != EXIT_DONE)
    return code < 0 ? EXIT_DONE : code;
  if (optind >= argc)
    return usage_error ("delete needs a queue name");
  for (int i = optind; i < argc; i++)
    if ((code = check_queue_arg (argv[i])) != EXIT_DONE)
      return code;
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);
  for (int i = optind; i < argc; i++)
    {
      st = mq_delete (client, argv[i]);
      if (st == MQ_OK)
        continue;
      code = fail (st);
      if (code > result)
        result = code;
      if (code == EXIT_FAILED)
        break;
    }
  return result;
}

static int
run_flush (int argc, char **argv)
{
  static const struct option longs[] = {
    { "all", no_argument, NULL, 'a' },
    COMMON_LONG_OPTIONS,
    { NULL, 0, NULL, 0 },
  };
  int all = 0;
  int opt, code;
  mq_status st;

  while ((opt = getopt_long (argc, argv, ":ah", longs, NULL)) != -1)
    switch (opt)
      {
      case 'a':
        all = 1;
        break;
      case 'h':
        return command_help (find_command ("flush"));
      default:
        return unknown_option (opt, argv);
      }
  if (all && optind < argc)
    return usage_error ("flush takes queue names or --all, not both");
  if (!all && optind >= argc)
    return usage_error ("flush needs a queue name (or --all)");
  for (int i = optind; i < argc; i++)
    if ((code = check_queue_arg (argv[i])) != EXIT_DONE)
      return code;
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);
  if (all)
    {
      st = mq_flush_all (client);
      return st == MQ_OK ? EXIT_DONE : fail (st);
    }
  for (int i = optind; i < argc; i++)
    {
      st = mq_flush (client, argv[i]);
      if (st != MQ_OK)
        return fail (st);
    }
  return EXIT_DONE;
}

static double
now_ms (void)
{
  struct timespec t;

  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

static int
run_ping_or_version (int argc, char **argv, int ping)
{
  int code = simple_options (argc, argv, ping ? "ping" : "version");
  const char *version;
  double start;
  mq_status st;

  if (code != EXIT_DONE)
    return code < 0 ? EXIT_DONE : code;
  if (optind < argc)
    return usage_error ("unexpected argument '%s'", argv[optind]);
  if ((st = connect_client ()) != MQ_OK)
    return fail (st);
  start = now_ms ();
  st = mq_version (client, &version);
  if (st != MQ_OK)
    return fail (st);
  if (ping)
    printf ("mqd %s at %s answered in %.3f ms\n", version,
            mq_client_socket (client), now_ms () - start);
  else
    printf ("%s\n", version);
  return flush_stdout ();
}

static int
run_ping (int argc, char **argv)
{
  return run_ping_or_version (argc, argv, 1);
}

static int
run_version (int argc, char **argv)
{
  return run_ping_or_version (argc, argv, 0);
}

static int run_help (int argc, char **argv);

/* ---- the command table ------------------------------------------------- */

static const struct command commands[] = {
  { "push", run_push, "[-l|-0] [-F FLAGS] [-e EXPTIME] QUEUE [MESSAGE...]",
"Adds messages to the tail of QUEUE (created by its first message).  Each\n"
"MESSAGE argument is one message.  Without arguments, standard input is\n"
"read: the whole of it is one message, or, with -l or -0, each line or\n"
"NUL-terminated part is one.  Bytes are sent exactly as read.\n"
"\n"
"  -l, --lines         one message per line (the newline is not part of it)\n"
"  -0, --null          one message per NUL-terminated part\n"
"  -F, --flags=FLAGS   a number from 0 to 4294967295 kept with each message\n"
"  -e, --expire=SECS   expire after SECS seconds (over 2592000: a Unix time)\n"
"\n"
"Many messages are sent pipelined, without waiting for each answer.\n"
"Exit status: 0 all stored; 3 cannot connect or the connection broke;\n"
"4 some message was refused (queue full, or too large).\n" },
  { "pop", run_pop, "[-n COUNT] [-w SECONDS] [-f] [-l|-0] QUEUE",
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
"Exit status: 0 some message was written; 1 none (empty queue, wait over).\n" },
  { "peek", run_peek, "[-w SECONDS] [-l|-0] QUEUE",
"Writes the head message of QUEUE without removing it.\n"
"\n"
"  -w, --wait=SECONDS  wait up to SECONDS for a message\n"
"  -l, --lines         a newline after the message\n"
"  -0, --null          a NUL byte after the message\n"
"\n"
"Exit status: 0 written; 1 the queue is empty.\n" },
  { "work", run_work, "[-w SECONDS] [-n COUNT] [-d SECONDS] QUEUE -- COMMAND "
    "[ARG...]",
"Runs COMMAND once for each message of QUEUE, with the message on its\n"
"standard input, and $MQCTL_QUEUE and $MQCTL_FLAGS in its environment.\n"
"The message is taken with a reliable read: it is deleted when COMMAND\n"
"exits with status 0, and given back to the head of the queue otherwise.\n"
"If mqctl itself dies meanwhile, the daemon gives the message back.\n"
"\n"
"  -w, --wait=SECONDS  stop once the queue stayed empty this long\n"
"                      (default: wait for ever)\n"
"  -n, --count=COUNT   stop after COUNT messages were done\n"
"  -d, --delay=SECONDS pause after a failed COMMAND (default 1)\n"
"\n"
"A broken connection is reconnected every second.\n"
"Exit status: 0 messages were handled; 1 none came within -w; 2 COMMAND\n"
"cannot be run; 3 server error.\n" },
  { "stats", run_stats, "[--json] [QUEUE]",
"Without QUEUE: the daemon's statistics, then a table of every queue.\n"
"With QUEUE: that queue's numbers (exit status 1 when it does not exist).\n"
"\n"
"  -j, --json          one JSON object instead of tables: {\"server\": {...},\n"
"                      \"queues\": {NAME: {...}}}, or the queue's {\"name\": ...}\n" },
  { "queues", run_queues, "",
"Lists the queues, one name per line, in byte order.\n" },
  { "delete", run_delete, "QUEUE...",
"Drops each QUEUE with its messages and counters.\n"
"Exit status 1 when a queue did not exist.\n" },
  { "flush", run_flush, "QUEUE... | --all",
"Removes every message of each QUEUE (or, with -a/--all, of every queue),\n"
"keeping the queues and their counters.\n" },
  { "ping", run_ping, "",
"Checks that the daemon answers, and says how fast.\n" },
  { "version", run_version, "",
"Prints the daemon's version (mqctl --version prints mqctl's).\n" },
  { "help", run_help, "[COMMAND]",
"Prints the list of commands, or the help of COMMAND.\n" },
};

static const struct command *
find_command (const char *name)
{
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int
run_help (int argc, char **argv)
{
  const struct command *cmd;

  if (argc > 2)
    return usage_error ("help takes one command name");
  if (argc < 2)
    {
      general_usage (stdout);
      return flush_stdout ();
    }
  cmd = find_command (strcmp (argv[1], "--help") == 0
                      || strcmp (argv[1], "-h") == 0 ? "help" : argv[1]);
  if (cmd == NULL)
    return usage_error ("no command '%s'", argv[1]);
  return command_help (cmd);
}

int
main (int argc, char **argv)
{
  static const struct option longs[] = {
    { "socket", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  const struct command *cmd;
  int opt, code;

  /* '+': the options before the command are mqctl's. */
  while ((opt = getopt_long (argc, argv, "+:s:hV", longs, NULL)) != -1)
    switch (opt)
      {
      case 's':
        socket_path = optarg;
        break;
      case 'h':
        general_usage (stdout);
        return flush_stdout ();
      case 'V':
        printf ("mqctl %s (libmqclient %s)\n", PACKAGE_VERSION,
                mq_library_version ());
        return flush_stdout ();
      case ':':
        return usage_error ("option %s needs a value", argv[optind - 1]);
      default:
        return usage_error ("unknown option %s", argv[optind - 1]);
      }
  if (optind >= argc)
    {
      general_usage (stderr);
      return EXIT_USAGE;
    }
  cmd = find_command (argv[optind]);
  if (cmd == NULL)
    return usage_error ("no command '%s'", argv[optind]);
  command_name = cmd->name;
  argc -= optind;
  argv += optind;
  optind = 0;                     /* glibc: start over on the command */
  code = cmd->run (argc, argv);
  mq_client_free (client);
  if (fflush (stdout) != 0 && code == EXIT_DONE)
    code = EXIT_FAILED;
  return code;
}
