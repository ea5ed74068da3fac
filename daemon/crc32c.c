/* crc32c.c: CRC-32C; see crc32c.h. */
#include "config.h"

#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY 0x82f63b78u   /* reflected Castagnoli polynomial */

static guint32 crc_table[256];

static void
crc32c_init_table (void)
{
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;

      for (int k = 0; k < 8; k++)
        c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
      crc_table[i] = c;
    }
}

static guint32
crc32c_table (guint32 crc, const guint8 *data, gsize len)
{
  while (len-- > 0)
    crc = (crc >> 8) ^ crc_table[(crc ^ *data++) & 0xff];
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HARDWARE 1

/* The crc32 instruction takes 3 cycles but can start every cycle: one
 * dependent chain runs at a third of the speed the processor has.  Long
 * inputs are cut into three blocks checksummed side by side, whose
 * registers are then joined with a shift: a table lookup per byte of the
 * register, by the block length. */
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

typedef guint32 CrcShift[4][256];

static CrcShift shift_long, shift_short;

__attribute__ ((target ("sse4.2")))
static guint64
crc32c_word (guint64 c, const guint8 *data)
{
  guint64 word;

  memcpy (&word, data, sizeof word);
  return __builtin_ia32_crc32di (c, word);
}

__attribute__ ((target ("sse4.2")))
static guint32
crc32c_chain (guint32 crc, const guint8 *data, gsize len)
{
  guint64 c = crc;

  for (; len >= 8; data += 8, len -= 8)
    c = crc32c_word (c, data);
  crc = (guint32) c;
  while (len-- > 0)
    crc = __builtin_ia32_crc32qi (crc, *data++);
  return crc;
}

/* The register after len zero bytes: what the bytes before a block do to
 * the register at its end. */
__attribute__ ((target ("sse4.2")))
static guint32
crc32c_zeros (guint32 crc, gsize len)
{
  guint64 c = crc;

  for (; len > 0; len -= 8)
    c = __builtin_ia32_crc32di (c, 0);
  return (guint32) c;
}

/* The shift is linear: the table's entries are sums of the shifts of the
 * register's 32 bits. */
static void
crc32c_init_shift (CrcShift shift, gsize len)
{
  guint32 bit[32];

  for (guint i = 0; i < 32; i++)
    bit[i] = crc32c_zeros (1u << i, len);
  for (guint k = 0; k < 4; k++)
    for (guint v = 0; v < 256; v++)
      {
        guint32 sum = 0;

        for (guint b = 0; b < 8; b++)
          if (v & (1u << b))
            sum ^= bit[8 * k + b];
        shift[k][v] = sum;
      }
}

static guint32
crc32c_shift (const CrcShift shift, guint32 crc)
{
  return shift[0][crc & 0xff] ^ shift[1][(crc >> 8) & 0xff]
    ^ shift[2][(crc >> 16) & 0xff] ^ shift[3][crc >> 24];
}

/* Three blocks of block bytes at a time, while they last. */
__attribute__ ((target ("sse4.2")))
static guint32
crc32c_triples (guint32 crc, const guint8 **data, gsize *len, gsize block,
                const CrcShift shift)
{
  for (; *len >= 3 * block; *data += 3 * block, *len -= 3 * block)
    {
      const guint8 *p = *data;
      guint64 c0 = crc, c1 = 0, c2 = 0;

      for (gsize i = 0; i < block; i += 8)
        {
          c0 = crc32c_word (c0, p + i);
          c1 = crc32c_word (c1, p + block + i);
          c2 = crc32c_word (c2, p + 2 * block + i);
        }
      crc = crc32c_shift (shift, (guint32) c0) ^ (guint32) c1;
      crc = crc32c_shift (shift, crc) ^ (guint32) c2;
    }
  return crc;
}

static guint32
crc32c_sse42 (guint32 crc, const guint8 *data, gsize len)
{
  crc = crc32c_triples (crc, &data, &len, CRC32C_LONG, shift_long);
  crc = crc32c_triples (crc, &data, &len, CRC32C_SHORT, shift_short);
  return crc32c_chain (crc, data, len);
}
#endif

typedef guint32 (*CrcFunc) (guint32, const guint8 *, gsize);

static CrcFunc
crc32c_choose (void)
{
#ifdef CRC32C_HARDWARE
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("sse4.2"))
    {
      crc32c_init_shift (shift_long, CRC32C_LONG);
      crc32c_init_shift (shift_short, CRC32C_SHORT);
      return crc32c_sse42;
    }
#endif
  crc32c_init_table ();
  return crc32c_table;
}

guint32
crc32c_update (guint32 crc, const guint8 *data, gsize len)
{
  static gsize impl;

  if (g_once_init_enter (&impl))
    g_once_init_leave (&impl, (gsize) crc32c_choose ());
  return ~((CrcFunc) impl) (~crc, data, len);
}
