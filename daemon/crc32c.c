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

__attribute__ ((target ("sse4.2")))
static guint32
crc32c_sse42 (guint32 crc, const guint8 *data, gsize len)
{
  guint64 c = crc;

  for (; len >= 8; data += 8, len -= 8)
    {
      guint64 word;

      memcpy (&word, data, sizeof word);
      c = __builtin_ia32_crc32di (c, word);
    }
  crc = (guint32) c;
  while (len-- > 0)
    crc = __builtin_ia32_crc32qi (crc, *data++);
  return crc;
}
#endif

typedef guint32 (*CrcFunc) (guint32, const guint8 *, gsize);

static CrcFunc
crc32c_choose (void)
{
#ifdef CRC32C_HARDWARE
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("sse4.2"))
    return crc32c_sse42;
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
