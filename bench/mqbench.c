/* mqbench: a load generator for mqd and its peers on a Unix socket.
 *
 * One thread, one epoll loop, any number of connections.  Each connection
 * keeps up to --depth requests in flight; a request's latency runs from the
 * send() of the batch that carried it to the recv() that completed its reply
 * (with --depth 1 that is exactly one request; with pipelining it is per
 * request, the requests of one batch sharing their send time).
 *
 * Protocols:
 *   mq         memcache text protocol, queue semantics (mqd, MemcacheQ):
 *              set = enqueue, get = dequeue, "get q/t=MS" blocks.
 *   memcached  memcache text protocol, cache semantics: keys overwrite, so
 *              lost and duplicated messages are not counted; "pair" is set
 *              a key then get the same key: the ceiling of the protocol.
 *   redis      RESP: LPUSH to enqueue, RPOP (BRPOP when blocking) to dequeue.
 *
 * Workloads:
 *   produce    every connection enqueues
 *   consume    every connection dequeues until --count messages arrived
 *   pair       every connection enqueues then dequeues, alternately; by
 *              default each connection has its own queue, so every get must
 *              return exactly the message of the set before it
 *   flood      the first half of the connections produce, the other half
 *              consume (blocking gets) until all that was stored is drained
 *
 * Useful operations are acknowledged sets plus gets that returned a message;
 * a get that found the queue empty is counted apart (empty=) and is never
 * work.  The latency percentiles are those of the useful requests.
 *
 * Every payload starts with a header that names the run, the producing
 * connection and its sequence number, and carries a checksum of the whole
 * message, so the consumer counts lost, duplicated, reordered and corrupt
 * messages.  Two sums tie separate runs together: ack_sum adds up the
 * checksums of the messages the server acknowledged, recv_sum those of the
 * messages delivered, so a fill in one process and a drain in another (after
 * a restart) agree exactly when every message came back once.
 * Output: one "RESULT key=value ..." line, then a human line.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -pthread -o mqbench mqbench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { P_MQ, P_MEMCACHED, P_REDIS };
enum { W_PRODUCE, W_CONSUME, W_PAIR, W_FLOOD };
enum { ROLE_PRODUCER, ROLE_CONSUMER, ROLE_PAIR };
enum { OP_SET, OP_GET };

static const char *const proto_names[] = { "mq", "memcached", "redis" };
static const char *const workload_names[] = { "produce", "consume", "pair",
                                              "flood" };

/* ---- options -------------------------------------------------------------- */

static struct {
  const char *path;
  int proto;
  int workload;
  int conns;
  int depth;
  size_t size;
  uint64_t count;                 /* messages; 0: bounded by time only */
  double seconds;                 /* 0: bounded by count only */
  int queues;                     /* 0: one queue (key) per connection */
  const char *prefix;
  int block_ms;                   /* blocking get timeout; 0: plain get */
  int idle_ms;
  double grace;
  uint32_t run;
  int run_given;
  uint32_t id_base;               /* producer id of the first connection */
  uint64_t split;                 /* time every this many messages; 0: not */
  double rate;                    /* requests/s per connection; 0: no bound */
  double wait_socket;             /* seconds to keep trying to connect */
  int verbose;
} cfg = {
  .path = NULL,
  .proto = P_MQ,
  .workload = W_PAIR,
  .conns = 1,
  .depth = 1,
  .size = 100,
  .count = 0,
  .seconds = 0,
  .queues = -1,
  .prefix = "mqb",
  .block_ms = -1,
  .idle_ms = 2000,
  .grace = 30,
};

static void
die (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fputs ("mqbench: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (2);
}

static void *
xrealloc (void *p, size_t n)
{
  void *q = realloc (p, n ? n : 1);

  if (q == NULL)
    die ("out of memory (%zu bytes)", n);
  return q;
}

static void *
xcalloc (size_t n, size_t size)
{
  void *q = calloc (n ? n : 1, size ? size : 1);

  if (q == NULL)
    die ("out of memory");
  return q;
}

static uint64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ---- latency histogram (log-linear, about 1.6 % resolution) -------------- */

#define H_SUB_BITS 6
#define H_SUB (1 << H_SUB_BITS)
#define H_BUCKETS (H_SUB + 64 * H_SUB)

typedef struct {
  uint64_t n, max;
  uint64_t b[H_BUCKETS];
} Hist;

static void
hist_add (Hist *h, uint64_t v)
{
  unsigned idx;

  if (v < H_SUB)
    idx = (unsigned) v;
  else
    {
      int msb = 63 - __builtin_clzll (v);
      int shift = msb - H_SUB_BITS;

      idx = H_SUB + (unsigned) shift * H_SUB
        + (unsigned) ((v >> shift) - H_SUB);
    }
  h->b[idx]++;
  h->n++;
  if (v > h->max)
    h->max = v;
}

static uint64_t
hist_value (unsigned idx)
{
  unsigned shift, sub;

  if (idx < H_SUB)
    return idx;
  shift = (idx - H_SUB) / H_SUB;
  sub = (idx - H_SUB) % H_SUB;
  /* the middle of the bucket */
  return ((uint64_t) (H_SUB + sub) << shift) + (((uint64_t) 1 << shift) >> 1);
}

static double
hist_pct_us (const Hist *h, double pct)
{
  uint64_t want, seen = 0;

  if (h->n == 0)
    return 0;
  want = (uint64_t) ((double) h->n * pct / 100.0);
  if (want < 1)
    want = 1;
  for (unsigned i = 0; i < H_BUCKETS; i++)
    {
      seen += h->b[i];
      if (seen >= want)
        {
          uint64_t v = hist_value (i);
          return (double) (v > h->max ? h->max : v) / 1000.0;
        }
    }
  return (double) h->max / 1000.0;
}

static Hist h_all, h_useful, h_set, h_get;

/* ---- payloads --------------------------------------------------------------
 * "MQB:" run(8 hex) ":" conn(6 hex) ":" seq(12 hex) ":" checksum(16 hex) "|"
 * then filler; the checksum covers every byte but its own 16.
 */

#define HDR_LEN 50
#define CK_OFF 33
#define CK_LEN 16
#define PAT_EXTRA 4096

static char *pattern;
static size_t pattern_len;

static uint64_t
mix (uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint64_t
hash_bytes (uint64_t h, const char *p, size_t n)
{
  /* four independent lanes over 32-byte blocks: several bytes a cycle, so
   * checking 64 KiB messages does not make the load generator the limit */
  if (n >= 32)
    {
      uint64_t l[4] = { h, h ^ 0x243f6a8885a308d3ULL, h + 0x13198a2e03707344ULL,
                        ~h };

      while (n >= 32)
        {
          for (int i = 0; i < 4; i++)
            {
              uint64_t w;

              memcpy (&w, p + 8 * i, 8);
              l[i] = (l[i] ^ w) * 0x9e3779b97f4a7c15ULL;
              l[i] ^= l[i] >> 29;
            }
          p += 32;
          n -= 32;
        }
      h = mix (l[0]) ^ (mix (l[1]) * 3) ^ (mix (l[2]) * 5) ^ (mix (l[3]) * 7);
    }
  while (n >= 8)
    {
      uint64_t w;

      memcpy (&w, p, 8);
      h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
      h ^= h >> 29;
      p += 8;
      n -= 8;
    }
  while (n > 0)
    {
      h = (h ^ (unsigned char) *p++) * 0x100000001b3ULL;
      n--;
    }
  return h;
}

static uint64_t
payload_checksum (const char *p, size_t len)
{
  uint64_t h = 0x6d7162656e6368ULL ^ len;

  h = hash_bytes (h, p, CK_OFF);
  h = hash_bytes (h, p + CK_OFF + CK_LEN, len - CK_OFF - CK_LEN);
  return mix (h);
}

static void
put_hex (char *p, uint64_t v, int digits)
{
  static const char hex[] = "0123456789abcdef";

  for (int i = digits - 1; i >= 0; i--)
    {
      p[i] = hex[v & 15];
      v >>= 4;
    }
}

static int
get_hex (const char *p, int digits, uint64_t *out)
{
  uint64_t v = 0;

  for (int i = 0; i < digits; i++)
    {
      char c = p[i];
      int d;

      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else
        return -1;
      v = v << 4 | (uint64_t) d;
    }
  *out = v;
  return 0;
}

static void
pattern_init (size_t size)
{
  uint64_t x = 0x2545f4914f6cdd1dULL;

  pattern_len = size + PAT_EXTRA;
  pattern = xrealloc (NULL, pattern_len);
  for (size_t i = 0; i < pattern_len; i++)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      pattern[i] = (char) ('!' + (x % 94));   /* printable, no space */
    }
}

/* Writes a size-byte payload at p; returns its checksum. */
static uint64_t
payload_make (char *p, size_t size, uint32_t run, uint32_t conn, uint64_t seq)
{
  size_t off = (size_t) ((conn * 7919u + seq * 131u) % PAT_EXTRA);
  uint64_t ck;

  memcpy (p, "MQB:", 4);
  put_hex (p + 4, run, 8);
  p[12] = ':';
  put_hex (p + 13, conn, 6);
  p[19] = ':';
  put_hex (p + 20, seq, 12);
  p[32] = ':';
  p[49] = '|';
  memcpy (p + HDR_LEN, pattern + off, size - HDR_LEN);
  ck = payload_checksum (p, size);
  put_hex (p + CK_OFF, ck, 16);
  return ck;
}

/* 0 when the payload is whole and well-formed. */
static int
payload_parse (const char *p, size_t len, uint32_t *run, uint32_t *conn,
               uint64_t *seq, uint64_t *sum)
{
  uint64_t r, c, s, ck;

  if (len < HDR_LEN || memcmp (p, "MQB:", 4) != 0 || p[12] != ':'
      || p[19] != ':' || p[32] != ':' || p[49] != '|'
      || get_hex (p + 4, 8, &r) || get_hex (p + 13, 6, &c)
      || get_hex (p + 20, 12, &s) || get_hex (p + CK_OFF, 16, &ck))
    return -1;
  if (ck != payload_checksum (p, len))
    return -1;
  *run = (uint32_t) r;
  *conn = (uint32_t) c;
  *seq = s;
  *sum = ck;
  return 0;
}

/* ---- what was stored and what came back, per producing connection ------- */

typedef struct {
  uint64_t *acked;                /* bit per seq: the server said stored */
  uint64_t *seen;                 /* bit per seq: delivered at least once */
  uint64_t cap;                   /* bits */
  uint64_t top;                   /* highest seq seen + 1 */
} Track;

static Track **tracks;
static size_t n_tracks;

static Track *
track_get (uint32_t id)
{
  if (id >= n_tracks)
    {
      size_t n = n_tracks ? n_tracks : 64;

      while (n <= id)
        n *= 2;
      tracks = xrealloc (tracks, n * sizeof *tracks);
      memset (tracks + n_tracks, 0, (n - n_tracks) * sizeof *tracks);
      n_tracks = n;
    }
  if (tracks[id] == NULL)
    tracks[id] = xcalloc (1, sizeof (Track));
  return tracks[id];
}

static void
track_reserve (Track *t, uint64_t seq)
{
  uint64_t cap, words, old;

  if (seq < t->cap)
    return;
  cap = t->cap ? t->cap : 4096;
  while (cap <= seq)
    cap *= 2;
  words = cap / 64;
  old = t->cap / 64;
  t->acked = xrealloc (t->acked, words * 8);
  t->seen = xrealloc (t->seen, words * 8);
  memset (t->acked + old, 0, (words - old) * 8);
  memset (t->seen + old, 0, (words - old) * 8);
  t->cap = cap;
}

static int
bit_test_set (uint64_t *bits, uint64_t i)
{
  uint64_t m = (uint64_t) 1 << (i & 63);
  int was = (bits[i >> 6] & m) != 0;

  bits[i >> 6] |= m;
  return was;
}

static int
bit_test (const uint64_t *bits, uint64_t i)
{
  return (bits[i >> 6] >> (i & 63)) & 1;
}

/* ---- counters ------------------------------------------------------------- */

static struct {
  uint64_t sets_sent, sets_acked, not_stored, set_errors;
  uint64_t gets_sent, gets_hit, gets_empty, get_errors;
  uint64_t replies;
  uint64_t unique, dup, corrupt, reordered, foreign, mismatched;
  uint64_t backlog;               /* delivered, produced by another process */
  uint64_t ack_sum, recv_sum;     /* checksums added up, modulo 2^64 */
  uint64_t unanswered, conn_closed;
  uint64_t bytes_out, bytes_in;
} st;

static uint64_t inflight_total, inflight_prod, inflight_gets;
static uint64_t t_start, t_last_reply, t_last_delivery, t_last_useful;
static uint64_t t_first_reply, t_first_msg;
static int stopping;                     /* no new sets (time or count) */
static int giving_up;                    /* consumers: no more gets */
static volatile sig_atomic_t got_signal; /* SIGINT, SIGTERM: end the run */
static int errors_shown;

/* the time since the start at every cfg.split-th message */
static double *splits;
static size_t n_splits;

static void
split_mark (uint64_t messages, uint64_t t)
{
  if (cfg.split == 0 || messages % cfg.split != 0)
    return;
  splits = xrealloc (splits, (n_splits + 1) * sizeof *splits);
  splits[n_splits++] = (double) (t - t_start) / 1e9;
}

static void
show_error (const char *what, const char *line, size_t len)
{
  if (errors_shown++ < 5 || cfg.verbose)
    fprintf (stderr, "mqbench: %s: %.*s\n", what, (int) (len > 200 ? 200 : len),
             line);
}

/* ---- connections ---------------------------------------------------------- */

typedef struct {
  uint64_t t;                     /* send time */
  uint64_t seq;                   /* set: its seq; pair get: the seq expected */
  uint64_t sum;                   /* set: the checksum of its payload */
  uint32_t q;                     /* which of the --queues it went to */
  uint8_t op;
} Req;

typedef struct Conn {
  int fd;
  uint32_t id;                    /* producer id in payloads */
  int role;
  char key[300];                  /* the queue; with --queues N > 1, the
                                   * prefix of the N queues it turns over */
  uint32_t q;                     /* the queue the next request goes to */
  uint64_t next_due;              /* --rate: no request before this time */
  char *out;
  size_t out_len, out_off, out_cap;
  size_t out_ready;               /* bytes of out whose send time is not set */
  char *in;
  size_t in_start, in_end, in_cap;
  Req *ring;
  unsigned head, inflight;
  uint64_t next_seq;
  uint64_t last_set_seq;
  unsigned gets_owed;             /* pair: gets owed for sets issued */
  int closed;
  uint32_t want;                  /* epoll events registered */
  uint64_t *last;                 /* order check: last seq + 1 per producer */
  size_t last_cap;
} Conn;

static Conn *conns;
static int epfd;
static int n_producers;           /* flood: ids below this produce */
static char get_suffix[32];
static char redis_block[32];

static int
queue_semantics (void)
{
  return cfg.proto != P_MEMCACHED;
}

/* With --queues N > 1 every connection turns over all N queues, one request
 * after the other, so they fill evenly whatever the number of connections. */
static int
spread (void)
{
  return cfg.queues > 1;
}

/* The name of queue q of c, written at buf; returns its length. */
static size_t
conn_key (const Conn *c, uint32_t q, char *buf, size_t size)
{
  if (!spread ())
    return (size_t) snprintf (buf, size, "%s", c->key);
  return (size_t) snprintf (buf, size, "%s.%u", c->key, q);
}

static void
conn_next_queue (Conn *c)
{
  if (spread ())
    c->q = (c->q + 1) % (uint32_t) cfg.queues;
}

static void
out_reserve (Conn *c, size_t more)
{
  if (c->out_len + more <= c->out_cap)
    return;
  if (c->out_off > 0)
    {
      memmove (c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
      if (c->out_len + more <= c->out_cap)
        return;
    }
  while (c->out_len + more > c->out_cap)
    c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
  c->out = xrealloc (c->out, c->out_cap);
}

static void
out_add (Conn *c, const char *p, size_t n)
{
  out_reserve (c, n);
  memcpy (c->out + c->out_len, p, n);
  c->out_len += n;
}

static Req *
ring_push (Conn *c, int op, uint64_t seq)
{
  Req *r = &c->ring[(c->head + c->inflight) % (unsigned) cfg.depth];

  r->op = (uint8_t) op;
  r->seq = seq;
  r->q = c->q;
  r->t = 0;
  c->inflight++;
  inflight_total++;
  if (c->role == ROLE_PRODUCER)
    inflight_prod++;
  if (op == OP_GET)
    inflight_gets++;
  return r;
}

static void
issue_set (Conn *c)
{
  char line[400], key[320];
  size_t key_len = conn_key (c, c->q, key, sizeof key);
  int n;
  uint64_t seq = c->next_seq++;
  Req *r;

  if (cfg.proto == P_REDIS)
    n = snprintf (line, sizeof line, "*3\r\n$5\r\nLPUSH\r\n$%zu\r\n%s\r\n$%zu\r\n",
                  key_len, key, cfg.size);
  else
    n = snprintf (line, sizeof line, "set %s 0 0 %zu\r\n", key, cfg.size);
  out_reserve (c, (size_t) n + cfg.size + 2);
  memcpy (c->out + c->out_len, line, (size_t) n);
  c->out_len += (size_t) n;
  r = ring_push (c, OP_SET, seq);
  r->sum = payload_make (c->out + c->out_len, cfg.size, cfg.run, c->id, seq);
  c->out_len += cfg.size;
  memcpy (c->out + c->out_len, "\r\n", 2);
  c->out_len += 2;
  c->last_set_seq = seq;
  st.sets_sent++;
}

static void
issue_get (Conn *c, uint64_t expect)
{
  char line[400], key[320];
  size_t key_len = conn_key (c, c->q, key, sizeof key);
  int n;
  int block = cfg.block_ms > 0 && c->role == ROLE_CONSUMER;

  if (cfg.proto == P_REDIS && block)
    n = snprintf (line, sizeof line,
                  "*3\r\n$5\r\nBRPOP\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                  key_len, key, strlen (redis_block), redis_block);
  else if (cfg.proto == P_REDIS)
    n = snprintf (line, sizeof line, "*2\r\n$4\r\nRPOP\r\n$%zu\r\n%s\r\n",
                  key_len, key);
  else
    n = snprintf (line, sizeof line, "get %s%s\r\n", key,
                  block && cfg.proto == P_MQ ? get_suffix : "");
  out_add (c, line, (size_t) n);
  ring_push (c, OP_GET, expect);
  st.gets_sent++;
}

static int
may_set (void)
{
  return !stopping && (cfg.count == 0 || st.sets_sent < cfg.count);
}

static int
may_get (Conn *c)
{
  (void) c;
  if (giving_up)
    return 0;
  if (!queue_semantics ())
    /* a cache: gets are bounded like sets */
    return !stopping && (cfg.count == 0 || st.gets_sent < cfg.count);
  if (cfg.workload == W_CONSUME)
    return !stopping
      && (cfg.count == 0 || st.gets_hit + inflight_gets < cfg.count);
  /* flood: until the producers are done and all they stored came back */
  return !(inflight_prod == 0 && !may_set () && st.gets_hit >= st.sets_acked);
}

/* --rate: whether c may send a request now; if so, its next one is due an
 * interval later (never earlier than now: a late request is not made up
 * for by a burst). */
static int
conn_due (Conn *c)
{
  uint64_t t, interval;

  if (cfg.rate <= 0)
    return 1;
  t = now_ns ();
  if (t < c->next_due)
    return 0;
  interval = (uint64_t) (1e9 / cfg.rate);
  c->next_due = c->next_due + interval > t ? c->next_due + interval
    : t + interval;
  return 1;
}

static int
conn_has_work (Conn *c)
{
  if (c->role == ROLE_PAIR)
    return c->gets_owed > 0 || may_set ();
  return c->role == ROLE_PRODUCER ? may_set () : may_get (c);
}

/* Issues the next request of c.  A pair connection gets the message of the
 * set before it, from the same queue, before it sets the next one. */
static void
conn_issue (Conn *c)
{
  if (c->role == ROLE_PAIR && c->gets_owed == 0)
    {
      issue_set (c);
      c->gets_owed++;
      return;
    }
  if (c->role == ROLE_PAIR)
    {
      c->gets_owed--;
      issue_get (c, c->last_set_seq);
    }
  else if (c->role == ROLE_PRODUCER)
    issue_set (c);
  else
    issue_get (c, 0);
  conn_next_queue (c);
}

/* Queues as many requests as the depth allows; returns how many. */
static unsigned
conn_fill (Conn *c)
{
  unsigned added = 0;

  if (c->closed)
    return 0;
  while (c->inflight < (unsigned) cfg.depth && conn_has_work (c)
         && conn_due (c))
    {
      conn_issue (c);
      added++;
    }
  return added;
}

static void
conn_watch (Conn *c, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.ptr = c };

  if (c->want == events)
    return;
  if (epoll_ctl (epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
    die ("epoll_ctl: %s", strerror (errno));
  c->want = events;
}

static void
conn_close (Conn *c, const char *why)
{
  if (c->closed)
    return;
  if (why != NULL && (st.conn_closed < 3 || cfg.verbose))
    fprintf (stderr, "mqbench: connection %u closed: %s\n", c->id, why);
  c->closed = 1;
  st.conn_closed++;
  st.unanswered += c->inflight;
  inflight_total -= c->inflight;
  for (unsigned i = 0; i < c->inflight; i++)
    {
      Req *r = &c->ring[(c->head + i) % (unsigned) cfg.depth];

      if (c->role == ROLE_PRODUCER)
        inflight_prod--;
      if (r->op == OP_GET)
        inflight_gets--;
    }
  c->inflight = 0;
  epoll_ctl (epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close (c->fd);
}

/* Stamps the send time of the requests not yet stamped, then sends. */
static void
conn_flush (Conn *c)
{
  if (c->closed)
    return;
  if (c->out_ready < c->inflight)
    {
      uint64_t t = now_ns ();

      for (unsigned i = (unsigned) c->out_ready; i < c->inflight; i++)
        c->ring[(c->head + i) % (unsigned) cfg.depth].t = t;
      c->out_ready = c->inflight;
    }
  while (c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off,
                        MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          conn_close (c, strerror (errno));
          return;
        }
      c->out_off += (size_t) n;
      st.bytes_out += (uint64_t) n;
    }
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  conn_watch (c, EPOLLIN | (c->out_len > 0 ? EPOLLOUT : 0));
}

/* ---- checking what came back --------------------------------------------- */

/* FIFO: one consumer connection sees the messages of each producer in
 * each queue in the order they were produced. */
static void
fifo_check (Conn *c, const Req *r, uint32_t id, uint64_t seq)
{
  size_t per_id = spread () ? (size_t) cfg.queues : 1;
  size_t i = (size_t) id * per_id + r->q;

  if (i >= c->last_cap)
    {
      size_t n = c->last_cap ? c->last_cap : 16;

      while (n <= i)
        n *= 2;
      c->last = xrealloc (c->last, n * sizeof *c->last);
      memset (c->last + c->last_cap, 0, (n - c->last_cap) * sizeof *c->last);
      c->last_cap = n;
    }
  if (c->last[i] > seq + 1)
    st.reordered++;
  else
    c->last[i] = seq + 1;
}

/* Counts a message delivered twice, or once. */
static void
dup_check (uint32_t id, uint64_t seq)
{
  Track *tr = track_get (id);

  track_reserve (tr, seq);
  if (bit_test_set (tr->seen, seq))
    {
      st.dup++;
      if (st.dup <= 3 || cfg.verbose)
        fprintf (stderr, "mqbench: duplicate %u/%" PRIu64 "\n", id, seq);
    }
  else
    st.unique++;
  if (seq + 1 > tr->top)
    tr->top = seq + 1;
}

/* Own queue (or key), strictly alternating set/get: the get returns the
 * message of the set just before it. */
static void
pair_check (Conn *c, const Req *r, uint32_t id, uint64_t seq)
{
  if (id == c->id && seq == r->seq)
    return;
  st.mismatched++;
  if (st.mismatched <= 3 || cfg.verbose)
    fprintf (stderr, "mqbench: connection %u expected its message %" PRIu64
             ", got %u/%" PRIu64 "\n", c->id, r->seq, id, seq);
}

/* A message produced by a connection of another process (an earlier fill):
 * checked like the others, but no set of this run is owed for it. */
static int
from_backlog (uint32_t id)
{
  return cfg.workload != W_CONSUME
    && (id < cfg.id_base || id - cfg.id_base >= (uint32_t) cfg.conns);
}

static void
deliver (Conn *c, const Req *r, const char *data, size_t len, uint64_t t)
{
  uint32_t run, id;
  uint64_t seq, sum;

  st.gets_hit++;
  t_last_delivery = t;
  if (t_first_msg == 0)
    t_first_msg = t;
  split_mark (st.gets_hit, t);
  if (payload_parse (data, len, &run, &id, &seq, &sum) != 0)
    {
      st.corrupt++;
      if (st.corrupt <= 3 || cfg.verbose)
        show_error ("corrupt message", data, len);
      return;
    }
  st.recv_sum += sum;
  if (!cfg.run_given && cfg.workload == W_CONSUME && st.unique == 0
      && st.foreign == 0)
    cfg.run = run;                /* consume adopts the run it first sees */
  if (run != cfg.run)
    {
      st.foreign++;
      return;
    }
  if (cfg.workload == W_PAIR && cfg.queues == 0)
    pair_check (c, r, id, seq);
  if (!queue_semantics ())
    return;                       /* keys overwrite: nothing more to count */
  if (from_backlog (id))
    st.backlog++;
  dup_check (id, seq);
  fifo_check (c, r, id, seq);
}

static void
acked (Conn *c, const Req *r, uint64_t t)
{
  st.sets_acked++;
  st.ack_sum += r->sum;
  if (cfg.workload == W_PRODUCE)
    split_mark (st.sets_acked, t);
  if (queue_semantics () && cfg.workload != W_PRODUCE)
    {
      Track *tr = track_get (c->id);

      track_reserve (tr, r->seq);
      bit_test_set (tr->acked, r->seq);
    }
}

static const char *
find_eol (const char *p, const char *end)
{
  const char *nl = memchr (p, '\n', (size_t) (end - p));

  return nl;
}

static int
parse_u64 (const char *p, const char *end, uint64_t *out)
{
  uint64_t v = 0;

  if (p >= end)
    return -1;
  for (; p < end; p++)
    {
      if (*p < '0' || *p > '9')
        return -1;
      v = v * 10 + (uint64_t) (*p - '0');
    }
  *out = v;
  return 0;
}

static int
starts (const char *p, size_t len, const char *word)
{
  size_t n = strlen (word);

  return len >= n && memcmp (p, word, n) == 0;
}

/* Parses the reply to r at p[0..avail); returns bytes used, 0 when
 * incomplete, -1 when the stream makes no sense. */
static long
parse_mc (Conn *c, const Req *r, const char *p, size_t avail, uint64_t t)
{
  const char *end = p + avail, *eol = find_eol (p, end);
  size_t line_len;

  if (eol == NULL)
    return avail > 8192 ? -1 : 0;
  line_len = (size_t) (eol - p) + 1;
  if (r->op == OP_SET)
    {
      if (starts (p, line_len, "STORED\r\n"))
        acked (c, r, t);
      else if (starts (p, line_len, "NOT_STORED"))
        st.not_stored++;
      else
        {
          st.set_errors++;
          show_error ("set", p, line_len - 2);
        }
      return (long) line_len;
    }
  if (starts (p, line_len, "END\r\n"))
    {
      st.gets_empty++;
      if (!queue_semantics () && cfg.workload == W_PAIR)
        st.mismatched++;          /* the key just set is gone */
      return (long) line_len;
    }
  if (starts (p, line_len, "VALUE "))
    {
      const char *sp = eol - 1;         /* at '\r' */
      uint64_t bytes;
      size_t need;

      while (sp > p && sp[-1] != ' ')
        sp--;
      if (parse_u64 (sp, eol - 1, &bytes) != 0)
        return -1;
      need = line_len + bytes + 2 + 5;
      if (avail < need)
        {
          if (c->in_cap < need + 65536)
            {
              /* room for the whole reply */
              size_t used = c->in_end - c->in_start;
              memmove (c->in, c->in + c->in_start, used);
              c->in_start = 0;
              c->in_end = used;
              c->in_cap = need + 65536;
              c->in = xrealloc (c->in, c->in_cap);
            }
          return 0;
        }
      if (memcmp (p + line_len + bytes, "\r\nEND\r\n", 7) != 0)
        return -1;
      deliver (c, r, p + line_len, bytes, t);
      return (long) need;
    }
  st.get_errors++;
  show_error ("get", p, line_len - 2);
  return (long) line_len;
}

/* One RESP bulk string at p: returns bytes used (0: incomplete, -1: bad);
 * *data NULL for a nil. */
static long
resp_bulk (Conn *c, const char *p, size_t avail, const char **data,
           size_t *len)
{
  const char *end = p + avail, *eol = find_eol (p, end);
  uint64_t n;
  size_t line_len, need;

  if (eol == NULL)
    return avail > 64 ? -1 : 0;
  line_len = (size_t) (eol - p) + 1;
  if (p[0] != '$')
    return -1;
  if (starts (p, line_len, "$-1\r\n"))
    {
      *data = NULL;
      return (long) line_len;
    }
  if (parse_u64 (p + 1, eol - 1, &n) != 0)
    return -1;
  need = line_len + n + 2;
  if (avail < need)
    {
      if (c->in_cap < need + 65536)
        {
          size_t used = c->in_end - c->in_start;
          memmove (c->in, c->in + c->in_start, used);
          c->in_start = 0;
          c->in_end = used;
          c->in_cap = need + 65536;
          c->in = xrealloc (c->in, c->in_cap);
        }
      return 0;
    }
  *data = p + line_len;
  *len = n;
  return (long) need;
}

static long
parse_redis (Conn *c, const Req *r, const char *p, size_t avail, uint64_t t)
{
  const char *end = p + avail, *eol = find_eol (p, end);
  size_t line_len;
  const char *data;
  size_t len = 0;
  long used, used2;

  if (eol == NULL)
    return avail > 8192 ? -1 : 0;
  line_len = (size_t) (eol - p) + 1;
  if (p[0] == '-')
    {
      if (r->op == OP_SET)
        st.set_errors++;
      else
        st.get_errors++;
      show_error (r->op == OP_SET ? "LPUSH" : "RPOP", p, line_len - 2);
      return (long) line_len;
    }
  if (r->op == OP_SET)
    {
      if (p[0] != ':')
        return -1;
      acked (c, r, t);
      return (long) line_len;
    }
  if (p[0] == '*')
    {
      /* BRPOP: nil array, or [key, value] */
      if (starts (p, line_len, "*-1\r\n"))
        {
          st.gets_empty++;
          return (long) line_len;
        }
      if (!starts (p, line_len, "*2\r\n"))
        return -1;
      used = resp_bulk (c, p + line_len, avail - line_len, &data, &len);
      if (used <= 0)
        return used;
      used2 = resp_bulk (c, p + line_len + (size_t) used,
                         avail - line_len - (size_t) used, &data, &len);
      if (used2 <= 0)
        return used2;
      if (data == NULL)
        return -1;
      deliver (c, r, data, len, t);
      return (long) line_len + used + used2;
    }
  used = resp_bulk (c, p, avail, &data, &len);
  if (used <= 0)
    return used;
  if (data == NULL)
    st.gets_empty++;
  else
    deliver (c, r, data, len, t);
  return used;
}

static void
conn_read (Conn *c)
{
  for (;;)
    {
      ssize_t n;
      size_t space;
      uint64_t t;

      if (c->in_start == c->in_end)
        c->in_start = c->in_end = 0;
      if (c->in_cap - c->in_end < 16384)
        {
          if (c->in_start > 0)
            {
              memmove (c->in, c->in + c->in_start, c->in_end - c->in_start);
              c->in_end -= c->in_start;
              c->in_start = 0;
            }
          if (c->in_cap - c->in_end < 16384)
            {
              c->in_cap *= 2;
              c->in = xrealloc (c->in, c->in_cap);
            }
        }
      space = c->in_cap - c->in_end;
      n = recv (c->fd, c->in + c->in_end, space, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          if (c->in_end > c->in_start)
            show_error ("before closing, the server said",
                        c->in + c->in_start, c->in_end - c->in_start);
          conn_close (c, n == 0 ? "closed by the server" : strerror (errno));
          return;
        }
      st.bytes_in += (uint64_t) n;
      c->in_end += (size_t) n;
      t = now_ns ();
      while (c->in_end > c->in_start)
        {
          Req *r;
          long used;
          uint64_t useful_before = st.sets_acked + st.gets_hit;

          if (c->inflight == 0)
            {
              show_error ("unexpected reply", c->in + c->in_start,
                          c->in_end - c->in_start);
              conn_close (c, "reply to nothing");
              return;
            }
          r = &c->ring[c->head];
          used = cfg.proto == P_REDIS
            ? parse_redis (c, r, c->in + c->in_start, c->in_end - c->in_start,
                           t)
            : parse_mc (c, r, c->in + c->in_start, c->in_end - c->in_start,
                        t);
          if (used == 0)
            break;
          if (used < 0)
            {
              show_error ("cannot parse the reply", c->in + c->in_start,
                          c->in_end - c->in_start);
              conn_close (c, "protocol error");
              return;
            }
          c->in_start += (size_t) used;
          st.replies++;
          t_last_reply = t;
          if (t_first_reply == 0)
            t_first_reply = t;
          hist_add (&h_all, t - r->t);
          /* the empty gets of consumers waiting at the end are not work:
           * the run ends with its last useful reply */
          if (st.sets_acked + st.gets_hit > useful_before)
            {
              t_last_useful = t;
              hist_add (&h_useful, t - r->t);
            }
          hist_add (r->op == OP_SET ? &h_set : &h_get, t - r->t);
          if (r->op == OP_GET)
            inflight_gets--;
          if (c->role == ROLE_PRODUCER)
            inflight_prod--;
          inflight_total--;
          c->head = (c->head + 1) % (unsigned) cfg.depth;
          c->inflight--;
          c->out_ready--;
        }
      if ((size_t) n < space)
        return;                   /* drained */
    }
}

/* ---- setup ---------------------------------------------------------------- */

/* A connected socket; with --wait-socket, a server that is still starting
 * (no socket file yet, or nobody accepting) is tried again every
 * millisecond until the time is up. */
static int
connect_server (uint32_t index)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  uint64_t give_up = now_ns () + (uint64_t) (cfg.wait_socket * 1e9);
  const struct timespec pause = { 0, 1000000 };

  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", cfg.path);
  for (;;)
    {
      int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

      if (fd < 0)
        die ("socket: %s (raise ulimit -n?)", strerror (errno));
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
        return fd;
      if ((errno != ENOENT && errno != ECONNREFUSED) || now_ns () >= give_up)
        die ("connection %u: connect %s: %s", index, cfg.path,
             strerror (errno));
      close (fd);
      nanosleep (&pause, NULL);
    }
}

static void
conn_open (Conn *c, uint32_t index)
{
  struct epoll_event ev = { .events = EPOLLIN };
  int key_index;

  c->fd = connect_server (index);
  c->id = cfg.id_base + index;
  if (cfg.workload == W_PAIR)
    c->role = ROLE_PAIR;
  else if (cfg.workload == W_PRODUCE)
    c->role = ROLE_PRODUCER;
  else if (cfg.workload == W_CONSUME)
    c->role = ROLE_CONSUMER;
  else
    c->role = (int) index < n_producers ? ROLE_PRODUCER : ROLE_CONSUMER;
  /* flood: consumer k reads the queue of producer k */
  key_index = cfg.workload == W_FLOOD && c->role == ROLE_CONSUMER
    ? (int) index - n_producers : (int) index;
  if (cfg.workload == W_FLOOD && key_index >= n_producers)
    key_index %= n_producers;
  if (cfg.queues == 0)
    snprintf (c->key, sizeof c->key, "%s.%d", cfg.prefix, key_index);
  else
    snprintf (c->key, sizeof c->key, "%s", cfg.prefix);
  if (spread ())
    c->q = (uint32_t) key_index % (uint32_t) cfg.queues;
  c->in_cap = 65536 + cfg.size;
  c->in = xrealloc (NULL, c->in_cap);
  c->ring = xcalloc ((size_t) cfg.depth, sizeof (Req));
  c->want = EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl (epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
    die ("epoll_ctl: %s", strerror (errno));
}

/* This process's CPU time since t0, in % of one CPU: near 100 the load
 * generator, not the server, set the pace. */
static double
cpu_seconds (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
    + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static double cpu_at_start;

static double
client_cpu_pct (uint64_t t0)
{
  double wall = (double) (now_ns () - t0) / 1e9;

  return wall > 0 ? 100.0 * (cpu_seconds () - cpu_at_start) / wall : 0;
}

static uint64_t
parse_count (const char *s)
{
  char *end;
  double v = strtod (s, &end);

  if (end == s || v < 0)
    die ("not a count: %s", s);
  if (*end == 'k' || *end == 'K')
    v *= 1e3;
  else if (*end == 'm' || *end == 'M')
    v *= 1e6;
  else if (*end == 'g' || *end == 'G')
    v *= 1e9;
  else if (*end != '\0')
    die ("not a count: %s", s);
  return (uint64_t) v;
}

static uint64_t
parse_bytes (const char *s)
{
  char *end;
  double v = strtod (s, &end);

  if (end == s || v < 0)
    die ("not a size: %s", s);
  if (*end == 'k' || *end == 'K')
    v *= 1024;
  else if (*end == 'm' || *end == 'M')
    v *= 1024 * 1024;
  else if (*end != '\0')
    die ("not a size: %s", s);
  return (uint64_t) v;
}

static int
pick (const char *s, const char *const *names, int n, const char *what)
{
  for (int i = 0; i < n; i++)
    if (strcmp (s, names[i]) == 0)
      return i;
  die ("unknown %s: %s", what, s);
  return -1;
}

static void
usage (FILE *f)
{
  fputs (
"usage: mqbench -s SOCKET [options]\n"
"  -s, --socket PATH      Unix socket of the server\n"
"  -p, --proto P          mq (default) | memcached | redis\n"
"  -w, --workload W       produce | consume | pair (default) | flood\n"
"  -c, --conns N          connections (default 1)\n"
"  -d, --depth N          requests in flight per connection (default 1)\n"
"  -m, --size BYTES       message size, at least 50 (default 100; K, M)\n"
"  -n, --count N          messages to send (produce, pair, flood) or to\n"
"                         drain (consume); k, M suffixes; 0: no bound\n"
"  -t, --time SECONDS     stop sending after this long (default: 5 when\n"
"                         no count is given)\n"
"  -Q, --queues N         0: one queue (key) per connection (default for\n"
"                         pair); 1: one queue for all (default otherwise);\n"
"                         N > 1: every connection turns over the N queues\n"
"                         PREFIX.0 .. PREFIX.N-1, one request after the other\n"
"  -k, --prefix NAME      queue / key name prefix (default mqb)\n"
"  -b, --block MS         consumers' blocking get timeout (get q/t=MS,\n"
"                         BRPOP); 0: plain gets (default 100)\n"
"  -I, --idle MS          consumers give up after this long without a\n"
"                         message (default 2000)\n"
"  -g, --grace SECONDS    wait this long for replies after the end (30)\n"
"  -R, --run HEX          run id written in (produce) or expected from\n"
"                         (consume) the payloads; default random / adopted\n"
"  -i, --id-base N        producer id of the first connection (default 0);\n"
"                         runs that feed one queue take ids apart\n"
"  -P, --split N          note the time at every N messages stored\n"
"                         (produce) or delivered (the others)\n"
"  -r, --rate N           at most N requests a second per connection\n"
"  -W, --wait-socket SEC  keep trying to connect this long (a server that\n"
"                         is starting)\n"
"  -v, --verbose          report every error\n"
"Output: one line 'RESULT key=value ...', then one line for people.\n"
"Useful operations are acknowledged sets and gets that returned a message;\n"
"gets that found nothing are counted apart (empty=).  Latency is per useful\n"
"request: from the send() of the batch that carried it to the recv() that\n"
"completed its reply.  SIGINT or SIGTERM ends the run as its time would.\n",
f);
}

static void
parse_options (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "socket", required_argument, NULL, 's' },
    { "proto", required_argument, NULL, 'p' },
    { "workload", required_argument, NULL, 'w' },
    { "conns", required_argument, NULL, 'c' },
    { "depth", required_argument, NULL, 'd' },
    { "size", required_argument, NULL, 'm' },
    { "count", required_argument, NULL, 'n' },
    { "time", required_argument, NULL, 't' },
    { "queues", required_argument, NULL, 'Q' },
    { "prefix", required_argument, NULL, 'k' },
    { "block", required_argument, NULL, 'b' },
    { "idle", required_argument, NULL, 'I' },
    { "grace", required_argument, NULL, 'g' },
    { "run", required_argument, NULL, 'R' },
    { "id-base", required_argument, NULL, 'i' },
    { "split", required_argument, NULL, 'P' },
    { "rate", required_argument, NULL, 'r' },
    { "wait-socket", required_argument, NULL, 'W' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int opt;

  while ((opt = getopt_long (argc, argv,
                             "s:p:w:c:d:m:n:t:Q:k:b:I:g:R:i:P:r:W:vh",
                             longopts, NULL)) != -1)
    switch (opt)
      {
      case 's': cfg.path = optarg; break;
      case 'p': cfg.proto = pick (optarg, proto_names, 3, "protocol"); break;
      case 'w':
        cfg.workload = pick (optarg, workload_names, 4, "workload");
        break;
      case 'c': cfg.conns = atoi (optarg); break;
      case 'd': cfg.depth = atoi (optarg); break;
      case 'm': cfg.size = (size_t) parse_bytes (optarg); break;
      case 'n': cfg.count = parse_count (optarg); break;
      case 't': cfg.seconds = atof (optarg); break;
      case 'Q': cfg.queues = atoi (optarg); break;
      case 'k': cfg.prefix = optarg; break;
      case 'b': cfg.block_ms = atoi (optarg); break;
      case 'I': cfg.idle_ms = atoi (optarg); break;
      case 'g': cfg.grace = atof (optarg); break;
      case 'R':
        cfg.run = (uint32_t) strtoul (optarg, NULL, 16);
        cfg.run_given = 1;
        break;
      case 'i': cfg.id_base = (uint32_t) parse_count (optarg); break;
      case 'P': cfg.split = parse_count (optarg); break;
      case 'r': cfg.rate = atof (optarg); break;
      case 'W': cfg.wait_socket = atof (optarg); break;
      case 'v': cfg.verbose = 1; break;
      case 'h': usage (stdout); exit (0);
      default: usage (stderr); exit (2);
      }
  if (optind != argc || cfg.path == NULL)
    {
      usage (stderr);
      exit (2);
    }
}

static void
check_options (void)
{
  if (strlen (cfg.path) >= sizeof ((struct sockaddr_un *) 0)->sun_path)
    die ("socket path too long for a Unix socket: %s", cfg.path);
  if (cfg.conns < 1 || cfg.depth < 1)
    die ("--conns and --depth must be at least 1");
  if (cfg.workload == W_FLOOD && cfg.conns < 2)
    die ("flood needs at least 2 connections");
  if (cfg.size < HDR_LEN)
    die ("--size must be at least %d bytes (the checked header)", HDR_LEN);
  if (cfg.seconds <= 0 && cfg.count == 0)
    cfg.seconds = 5;
  if (cfg.queues < 0)
    cfg.queues = cfg.workload == W_PAIR ? 0 : 1;
  if (cfg.workload == W_PAIR && cfg.queues != 0 && cfg.proto == P_MEMCACHED)
    die ("memcached pair needs a key per connection (-Q 0)");
  if (cfg.block_ms < 0)
    cfg.block_ms = cfg.proto == P_MEMCACHED ? 0 : 100;
  if (cfg.workload == W_CONSUME && cfg.count == 0 && queue_semantics ())
    fprintf (stderr, "mqbench: consume without --count: lost messages are "
             "not counted\n");
  if ((uint64_t) cfg.id_base + (uint64_t) cfg.conns > 0xffffff)
    die ("too many connections (producer ids have 6 hex digits)");
}

static void
on_signal (int sig)
{
  (void) sig;
  got_signal = 1;
}

static void
setup (void)
{
  struct rlimit rl;
  struct sigaction sa = { .sa_handler = on_signal };

  if (!cfg.run_given)
    {
      uint64_t t = now_ns ();
      cfg.run = (uint32_t) mix (t ^ ((uint64_t) getpid () << 32));
    }
  snprintf (get_suffix, sizeof get_suffix, "/t=%d", cfg.block_ms);
  snprintf (redis_block, sizeof redis_block, "%.3f", cfg.block_ms / 1000.0);
  n_producers = cfg.workload == W_FLOOD ? cfg.conns / 2 : cfg.conns;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  signal (SIGPIPE, SIG_IGN);
  /* no SA_RESTART: the signal interrupts epoll_wait */
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  pattern_init (cfg.size);
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    die ("epoll_create1: %s", strerror (errno));
  conns = xcalloc ((size_t) cfg.conns, sizeof (Conn));
  for (int i = 0; i < cfg.conns; i++)
    conn_open (&conns[i], (uint32_t) i);
}

static void
fill_and_flush_all (void)
{
  for (int i = 0; i < cfg.conns; i++)
    if (conn_fill (&conns[i]) > 0)
      conn_flush (&conns[i]);
}

/* A paced connection with nothing in flight is waiting for its next turn,
 * not done. */
static int
paced_work_left (void)
{
  if (cfg.rate <= 0)
    return 0;
  for (int i = 0; i < cfg.conns; i++)
    if (!conns[i].closed && conn_has_work (&conns[i]))
      return 1;
  return 0;
}

/* The moment the run stopped sending (time, count, signal) or its
 * consumers gave up: the start of the grace for the last replies. */
static void
update_stop (uint64_t t, uint64_t deadline, uint64_t *hard_deadline)
{
  if (!stopping && (t >= deadline || got_signal
                    || (cfg.count > 0 && st.sets_sent >= cfg.count)))
    stopping = 1;
  if (got_signal)
    giving_up = 1;
  /* consumers give up on a queue that stays empty */
  if (!giving_up && queue_semantics ()
      && (cfg.workload == W_CONSUME
          || (cfg.workload == W_FLOOD && inflight_prod == 0 && !may_set ()))
      && t - t_last_delivery > (uint64_t) cfg.idle_ms * 1000000u)
    giving_up = 1;
  if ((stopping || giving_up) && *hard_deadline == UINT64_MAX)
    *hard_deadline = t + (uint64_t) (cfg.grace * 1e9);
}

static void
run_loop (void)
{
  int max_events = cfg.conns < 1024 ? cfg.conns : 1024;
  struct epoll_event *events = xcalloc ((size_t) max_events, sizeof *events);
  uint64_t deadline, hard_deadline = UINT64_MAX;

  cpu_at_start = cpu_seconds ();
  t_start = t_last_reply = t_last_delivery = now_ns ();
  deadline = cfg.seconds > 0 ? t_start + (uint64_t) (cfg.seconds * 1e9)
    : UINT64_MAX;
  for (int i = 0; i < cfg.conns; i++)
    {
      conn_fill (&conns[i]);
      conn_flush (&conns[i]);
    }
  for (;;)
    {
      uint64_t t;
      int n = epoll_wait (epfd, events, max_events, cfg.rate > 0 ? 1 : 50);

      if (n < 0 && errno != EINTR)
        die ("epoll_wait: %s", strerror (errno));
      for (int i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;

          if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            conn_read (c);
          if (!c->closed)
            {
              conn_fill (c);
              conn_flush (c);
            }
        }
      if (cfg.rate > 0)
        fill_and_flush_all ();
      t = now_ns ();
      update_stop (t, deadline, &hard_deadline);
      if (t >= hard_deadline)
        break;
      if (inflight_total == 0)
        {
          fill_and_flush_all ();
          if (inflight_total == 0 && !paced_work_left ())
            break;
        }
    }
  free (events);
}

/* What was acknowledged and never came back, counted into *lost, *holes
 * and *delivered_unacked. */
static void
count_missing (uint64_t *lost, uint64_t *holes, uint64_t *delivered_unacked)
{
  for (size_t id = 0; id < n_tracks; id++)
    {
      Track *tr = tracks[id];

      if (tr == NULL)
        continue;
      for (uint64_t s = 0; s < tr->cap; s++)
        {
          int a = bit_test (tr->acked, s), d = bit_test (tr->seen, s);

          if (a && !d)
            (*lost)++;
          if (!a && d && cfg.workload != W_CONSUME)
            (*delivered_unacked)++;
          if (!d && s < tr->top)
            (*holes)++;
        }
    }
  if (cfg.workload == W_CONSUME)
    *lost = cfg.count > st.unique ? cfg.count - st.unique : 0;
}

/* Splits as "s1,s2,..." (seconds from the start), "-" when none. */
static void
format_splits (char *buf, size_t size)
{
  size_t off = 0;

  snprintf (buf, size, "-");
  for (size_t i = 0; i < n_splits && off + 16 < size; i++)
    off += (size_t) snprintf (buf + off, size - off, "%s%.3f", i ? "," : "",
                              splits[i]);
}

static double
mono_s (uint64_t t)
{
  return (double) t / 1e9;
}

static int
report (void)
{
  uint64_t t_end, lost = 0, holes = 0, delivered_unacked = 0;
  uint64_t msgs = cfg.workload == W_PRODUCE ? st.sets_acked : st.gets_hit;
  uint64_t useful = st.sets_acked + st.gets_hit;
  double elapsed;
  char lost_s[32], dup_s[32], reord_s[32];
  char *split_s = xrealloc (NULL, 16 * n_splits + 16);
  int counted = queue_semantics () && cfg.workload != W_PRODUCE;

  /* the run ends with its last useful reply: a set acknowledged or a
   * message delivered, not the empty gets that came after */
  t_end = t_last_useful > t_start ? t_last_useful
    : t_last_reply > t_start ? t_last_reply : now_ns ();
  st.unanswered += inflight_total;
  elapsed = (double) (t_end - t_start) / 1e9;
  if (elapsed <= 0)
    elapsed = 1e-9;
  if (counted)
    count_missing (&lost, &holes, &delivered_unacked);
  /* with messages of another process in the queue, what this one stored
   * may still be queued: only the sums of both runs can tell a loss */
  if (counted && st.backlog == 0 && !(cfg.workload == W_CONSUME
                                      && cfg.count == 0))
    snprintf (lost_s, sizeof lost_s, "%" PRIu64, lost);
  else
    snprintf (lost_s, sizeof lost_s, "-");
  snprintf (dup_s, sizeof dup_s, counted ? "%" PRIu64 : "-", st.dup);
  snprintf (reord_s, sizeof reord_s, counted ? "%" PRIu64 : "-",
            st.reordered);
  format_splits (split_s, 16 * n_splits + 16);

  printf ("RESULT proto=%s workload=%s conns=%d depth=%d size=%zu "
          "queues=%s semantics=%s run=%08x id_base=%u elapsed_s=%.3f ops=%"
          PRIu64 " ops_per_s=%.0f useful=%" PRIu64 " useful_per_s=%.0f msgs=%"
          PRIu64 " msgs_per_s=%.0f sets=%" PRIu64 " stored=%" PRIu64
          " not_stored=%" PRIu64 " set_errors=%" PRIu64 " gets=%" PRIu64
          " hits=%" PRIu64 " empty=%" PRIu64 " get_errors=%" PRIu64
          " p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f all_p99_us=%.1f"
          " set_p99_us=%.1f get_p99_us=%.1f lost=%s dup=%s corrupt=%" PRIu64
          " reordered=%s mismatched=%" PRIu64 " foreign=%" PRIu64
          " backlog=%" PRIu64 " holes=%" PRIu64 " delivered_unacked=%" PRIu64
          " unanswered=%" PRIu64 " conn_closed=%" PRIu64
          " ack_sum=0x%016" PRIx64 " recv_sum=0x%016" PRIx64
          " start_mono=%.6f first_reply_mono=%.6f first_msg_mono=%.6f"
          " splits=%s"
          " client_cpu_pct=%.0f\n",
          proto_names[cfg.proto], workload_names[cfg.workload], cfg.conns,
          cfg.depth, cfg.size,
          cfg.queues == 0 ? "per-conn" : (cfg.queues == 1 ? "1" : "N"),
          queue_semantics () ? "queue" : "cache", cfg.run, cfg.id_base,
          elapsed, st.replies, (double) st.replies / elapsed, useful,
          (double) useful / elapsed, msgs, (double) msgs / elapsed,
          st.sets_sent, st.sets_acked, st.not_stored, st.set_errors,
          st.gets_sent, st.gets_hit, st.gets_empty, st.get_errors,
          hist_pct_us (&h_useful, 50), hist_pct_us (&h_useful, 99),
          hist_pct_us (&h_useful, 99.9), (double) h_useful.max / 1000.0,
          hist_pct_us (&h_all, 99), hist_pct_us (&h_set, 99),
          hist_pct_us (&h_get, 99), lost_s, dup_s, st.corrupt, reord_s,
          st.mismatched, st.foreign, st.backlog, holes, delivered_unacked,
          st.unanswered, st.conn_closed, st.ack_sum, st.recv_sum,
          mono_s (t_start), mono_s (t_first_reply), mono_s (t_first_msg),
          split_s,
          client_cpu_pct (t_start));
  printf ("# %s %s: %d conn x depth %d, %zu-byte messages, %.2f s: "
          "%.0f useful ops/s (%.0f msgs/s, %" PRIu64 " empty gets apart); "
          "latency per useful request p50 %.1f us, p99 %.1f us, "
          "p99.9 %.1f us, max %.1f us; ",
          proto_names[cfg.proto], workload_names[cfg.workload], cfg.conns,
          cfg.depth, cfg.size, elapsed, (double) useful / elapsed,
          (double) msgs / elapsed, st.gets_empty,
          hist_pct_us (&h_useful, 50), hist_pct_us (&h_useful, 99),
          hist_pct_us (&h_useful, 99.9), (double) h_useful.max / 1000.0);
  if (queue_semantics ())
    printf ("lost %s, duplicated %s, corrupt %" PRIu64 ", reordered %s"
            "%s\n", lost_s, dup_s, st.corrupt, reord_s,
            cfg.workload == W_PRODUCE ? " (produce only: nothing read back)"
            : "");
  else
    printf ("corrupt %" PRIu64 ", mismatched %" PRIu64 "; memcached is a "
            "cache: keys overwrite, so lost/duplicated are not counted%s\n",
            st.corrupt, st.mismatched,
            cfg.workload == W_PAIR ? "; pair = set a key then get the same "
            "key (the protocol's ceiling)" : "");
  fflush (stdout);
  free (split_s);
  return st.corrupt > 0 || st.mismatched > 0
    || (counted && (st.dup > 0 || st.reordered > 0
                    || (st.backlog == 0 && lost > 0)));
}

int
main (int argc, char **argv)
{
  parse_options (argc, argv);
  check_options ();
  setup ();
  run_loop ();
  return report () ? 1 : 0;
}
