/**
 * hashcat kernel 94100: Matrix key export (mxkeys hash line v1). See module_94100.c.
 *
 * The PBKDF2-HMAC-SHA512 rounds are in inc_mxkeys.cl (hashcat's, from its mode 7100).
 * License: Apache-2.0 OR MIT, as mxkeys.
 */

#define NEW_SIMD_CODE

#ifdef KERNEL_STATIC
#include M2S(INCLUDE_PATH/inc_vendor.h)
#include M2S(INCLUDE_PATH/inc_types.h)
#include M2S(INCLUDE_PATH/inc_platform.cl)
#include M2S(INCLUDE_PATH/inc_common.cl)
#include M2S(INCLUDE_PATH/inc_simd.cl)
#include M2S(INCLUDE_PATH/inc_hash_sha512.cl)
#include M2S(INCLUDE_PATH/inc_cipher_aes.cl)
#include M2S(INCLUDE_PATH/inc_mxkeys.cl)
#endif

#define COMPARE_S M2S(INCLUDE_PATH/inc_comp_single.cl)
#define COMPARE_M M2S(INCLUDE_PATH/inc_comp_multi.cl)

KERNEL_FQ void m94100_init (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
{
  const u64 gid = get_global_id (0);

  if (gid >= GID_CNT) return;

  mxkeys_pbkdf2_init (&pws[gid], &tmps[gid], &salt_bufs[SALT_POS_HOST]);
}

KERNEL_FQ void m94100_loop (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
{
  const u64 gid = get_global_id (0);

  if ((gid * VECT_SIZE) >= GID_CNT) return;

  mxkeys_pbkdf2_loop (tmps, gid, LOOP_CNT);
}

KERNEL_FQ void m94100_comp (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
{
  const u64 gid = get_global_id (0);
  const u64 lid = get_local_id (0);
  const u64 lsz = get_local_size (0);

  /**
   * aes shared
   */

  #ifdef REAL_SHM

  LOCAL_VK u32 s_te0[256];
  LOCAL_VK u32 s_te1[256];
  LOCAL_VK u32 s_te2[256];
  LOCAL_VK u32 s_te3[256];
  LOCAL_VK u32 s_te4[256];

  for (u32 i = lid; i < 256; i += lsz)
  {
    s_te0[i] = te0[i];
    s_te1[i] = te1[i];
    s_te2[i] = te2[i];
    s_te3[i] = te3[i];
    s_te4[i] = te4[i];
  }

  SYNC_THREADS ();

  #else

  CONSTANT_AS u32a *s_te0 = te0;
  CONSTANT_AS u32a *s_te1 = te1;
  CONSTANT_AS u32a *s_te2 = te2;
  CONSTANT_AS u32a *s_te3 = te3;
  CONSTANT_AS u32a *s_te4 = te4;

  #endif

  if (gid >= GID_CNT) return;

  // AES-256 key: the first 32 bytes of the derived key (big-endian words)

  u32 ukey[8];

  ukey[0] = h32_from_64_S (tmps[gid].out[0]);
  ukey[1] = l32_from_64_S (tmps[gid].out[0]);
  ukey[2] = h32_from_64_S (tmps[gid].out[1]);
  ukey[3] = l32_from_64_S (tmps[gid].out[1]);
  ukey[4] = h32_from_64_S (tmps[gid].out[2]);
  ukey[5] = l32_from_64_S (tmps[gid].out[2]);
  ukey[6] = h32_from_64_S (tmps[gid].out[3]);
  ukey[7] = l32_from_64_S (tmps[gid].out[3]);

  u32 ks[60];

  AES256_set_encrypt_key (ks, ukey, s_te0, s_te1, s_te2, s_te3);

  u32 ctr[4];

  ctr[0] = salt_bufs[SALT_POS_HOST].salt_buf[4];
  ctr[1] = salt_bufs[SALT_POS_HOST].salt_buf[5];
  ctr[2] = salt_bufs[SALT_POS_HOST].salt_buf[6];
  ctr[3] = salt_bufs[SALT_POS_HOST].salt_buf[7];

  // the head must decrypt to printable ASCII or whitespace whose first three non-whitespace
  // bytes are [ { "  (mxkeys: hashline::plausible_export_head)

  u32 ok   = 1;
  u32 seen = 0;

  for (u32 blk = 0; blk < 3; blk++)
  {
    u32 stream[4];

    AES256_encrypt (ks, ctr, stream, s_te0, s_te1, s_te2, s_te3, s_te4);

    mxkeys_ctr128_inc (ctr);

    for (u32 k = 0; k < 4; k++)
    {
      const u32 p = stream[k] ^ salt_bufs[SALT_POS_HOST].salt_buf[8 + blk * 4 + k];

      for (u32 b = 0; b < 4; b++)
      {
        const u32 c = (p >> (24 - 8 * b)) & 0xff;

        const u32 ws = (c == 0x20) | (c == 0x09) | (c == 0x0a) | (c == 0x0c) | (c == 0x0d);

        if ((ws == 0) && ((c < 0x20) || (c > 0x7e))) ok = 0;

        if ((ws == 0) && (seen < 3))
        {
          const u32 want = (seen == 0) ? 0x5b : ((seen == 1) ? 0x7b : 0x22);

          if (c != want) ok = 0;

          seen++;
        }
      }
    }

    if (ok == 0) return;
  }

  if (seen < 3) return;

  // a pass: report the head's first 16 bytes, this line's digest

  const u32 r0 = salt_bufs[SALT_POS_HOST].salt_buf[ 8];
  const u32 r1 = salt_bufs[SALT_POS_HOST].salt_buf[ 9];
  const u32 r2 = salt_bufs[SALT_POS_HOST].salt_buf[10];
  const u32 r3 = salt_bufs[SALT_POS_HOST].salt_buf[11];

  #define il_pos 0

  #ifdef KERNEL_STATIC
  #include COMPARE_M
  #endif
}
