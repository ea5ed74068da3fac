/* test_crc32c.c: unit tests for daemon/crc32c.c.
 *
 * Known vectors (the check value and RFC 3720's, appendix B.4), and a
 * bit-at-a-time reference written from the definition, against which every
 * length and alignment is compared: the 8-byte loop, the byte loop and
 * their meeting point all run, whichever implementation the machine got.
 */
#include "config.h"

#include <string.h>

#include "crc32c.h"

#define POLY 0x82f63b78u   /* reflected Castagnoli polynomial */

static guint32
reference (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffffu;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ ((crc & 1) ? POLY : 0);
    }
  return ~crc;
}

/* Bytes that differ from each other and from run to run of the loop. */
static void
fill_pattern (guint8 *out, gsize len, guint32 seed)
{
  for (gsize i = 0; i < len; i++)
    {
      seed = seed * 1103515245u + 12345u;
      out[i] = (guint8) (seed >> 16);
    }
}

static void
test_check_value (void)
{
  g_assert_cmphex (crc32c_update (0, (const guint8 *) "123456789", 9), ==,
                   0xe3069283u);
}

static void
test_rfc3720_vectors (void)
{
  guint8 buf[32];

  memset (buf, 0, sizeof buf);
  g_assert_cmphex (crc32c_update (0, buf, sizeof buf), ==, 0x8a9136aau);
  memset (buf, 0xff, sizeof buf);
  g_assert_cmphex (crc32c_update (0, buf, sizeof buf), ==, 0x62a8ab43u);
  for (guint i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) i;
  g_assert_cmphex (crc32c_update (0, buf, sizeof buf), ==, 0x46dd794eu);
  for (guint i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) (31 - i);
  g_assert_cmphex (crc32c_update (0, buf, sizeof buf), ==, 0x113fdb5cu);
}

static void
test_empty (void)
{
  guint8 byte = 'a';

  g_assert_cmphex (crc32c_update (0, NULL, 0), ==, 0);
  g_assert_cmphex (crc32c_update (0, &byte, 1), ==, 0xc1d04330u);
  /* Nothing more changes nothing. */
  g_assert_cmphex (crc32c_update (0xc1d04330u, &byte, 0), ==, 0xc1d04330u);
}

/* Every split point of a buffer, and three pieces of every size. */
static void
test_incremental (void)
{
  guint8 buf[100];
  guint32 whole;

  fill_pattern (buf, sizeof buf, 7);
  whole = crc32c_update (0, buf, sizeof buf);
  g_assert_cmphex (whole, ==, reference (buf, sizeof buf));
  for (gsize cut = 0; cut <= sizeof buf; cut++)
    g_assert_cmphex (crc32c_update (crc32c_update (0, buf, cut), buf + cut,
                                    sizeof buf - cut), ==, whole);
  for (gsize a = 0; a <= sizeof buf; a += 3)
    for (gsize b = a; b <= sizeof buf; b += 5)
      {
        guint32 crc = crc32c_update (0, buf, a);

        crc = crc32c_update (crc, buf + a, b - a);
        g_assert_cmphex (crc32c_update (crc, buf + b, sizeof buf - b), ==,
                         whole);
      }
}

/* Lengths 0..70 at each of the 8 alignments. */
static void
test_lengths_and_alignments (void)
{
  guint8 buf[8 + 70];

  fill_pattern (buf, sizeof buf, 11);
  for (gsize at = 0; at < 8; at++)
    for (gsize len = 0; at + len <= sizeof buf && len <= 70; len++)
      g_assert_cmphex (crc32c_update (0, buf + at, len), ==,
                       reference (buf + at, len));
}

static void
test_large (void)
{
  gsize len = 1024 * 1024 + 5;
  g_autofree guint8 *buf = g_malloc (len + 3);

  fill_pattern (buf, len + 3, 13);
  g_assert_cmphex (crc32c_update (0, buf + 3, len), ==,
                   reference (buf + 3, len));
}

/* Around the lengths where the three-block paths start and stop (256 and
 * 8192 bytes a block), at an odd address, and continued from a register
 * that is not zero. */
static void
test_block_edges (void)
{
  static const gsize edges[] = { 3 * 256, 3 * 8192, 3 * 8192 + 3 * 256,
                                 2 * 3 * 8192 };
  gsize max = 2 * 3 * 8192 + 16;
  g_autofree guint8 *buf = g_malloc (max + 1);

  fill_pattern (buf, max + 1, 17);
  for (gsize e = 0; e < G_N_ELEMENTS (edges); e++)
    for (gsize len = edges[e] - 9; len <= edges[e] + 9; len++)
      {
        guint32 head = crc32c_update (0, buf + 1, 5);

        g_assert_cmphex (crc32c_update (0, buf + 1, len), ==,
                         reference (buf + 1, len));
        g_assert_cmphex (crc32c_update (head, buf + 6, len), ==,
                         reference (buf + 1, len + 5));
      }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/crc32c/check-value", test_check_value);
  g_test_add_func ("/crc32c/rfc3720-vectors", test_rfc3720_vectors);
  g_test_add_func ("/crc32c/empty-and-one-byte", test_empty);
  g_test_add_func ("/crc32c/incremental", test_incremental);
  g_test_add_func ("/crc32c/lengths-and-alignments",
                   test_lengths_and_alignments);
  g_test_add_func ("/crc32c/large", test_large);
  g_test_add_func ("/crc32c/block-edges", test_block_edges);
  return g_test_run ();
}
