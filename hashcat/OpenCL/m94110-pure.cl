/**
 * hashcat kernel 94110: Matrix Security Phrase (mxkeys hash line v1). See module_94110.c.
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
#include M2S(INCLUDE_PATH/inc_hash_sha256.cl)
#include M2S(INCLUDE_PATH/inc_cipher_aes.cl)
#include M2S(INCLUDE_PATH/inc_mxkeys.cl)
#endif

#define COMPARE_S M2S(INCLUDE_PATH/inc_comp_single.cl)
#define COMPARE_M M2S(INCLUDE_PATH/inc_comp_multi.cl)

KERNEL_FQ void m94110_init (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
{
  const u64 gid = get_global_id (0);

  if (gid >= GID_CNT) return;

  mxkeys_pbkdf2_init (&pws[gid], &tmps[gid], &salt_bufs[SALT_POS_HOST]);
}

KERNEL_FQ void m94110_loop (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
{
  const u64 gid = get_global_id (0);

  if ((gid * VECT_SIZE) >= GID_CNT) return;

  mxkeys_pbkdf2_loop (tmps, gid, LOOP_CNT);
}

KERNEL_FQ void m94110_comp (KERN_ATTR_TMPS (mxkeys_pbkdf2_tmp_t))
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

  // the 32-byte key: the first half of the PBKDF2 block (big-endian words)

  u32 w[16];

  for (u32 i = 0; i < 16; i++) w[i] = 0;

  w[0] = h32_from_64_S (tmps[gid].out[0]);
  w[1] = l32_from_64_S (tmps[gid].out[0]);
  w[2] = h32_from_64_S (tmps[gid].out[1]);
  w[3] = l32_from_64_S (tmps[gid].out[1]);
  w[4] = h32_from_64_S (tmps[gid].out[2]);
  w[5] = l32_from_64_S (tmps[gid].out[2]);
  w[6] = h32_from_64_S (tmps[gid].out[3]);
  w[7] = l32_from_64_S (tmps[gid].out[3]);

  // HKDF-SHA-256 extract: PRK = HMAC (32 zero bytes, key)

  u32 k[16];

  for (u32 i = 0; i < 16; i++) k[i] = 0;

  sha256_hmac_ctx_t ctx;

  sha256_hmac_init (&ctx, k, 32);
  sha256_hmac_update (&ctx, w, 32);
  sha256_hmac_final (&ctx);

  for (u32 i = 0; i < 8; i++) k[i] = ctx.opad.h[i];

  // expand with empty info: T1 = HMAC (PRK, 01) is the AES key, T2 = HMAC (PRK, T1 || 02) the
  // HMAC key

  for (u32 i = 0; i < 16; i++) w[i] = 0;

  w[0] = 0x01000000;

  sha256_hmac_init (&ctx, k, 32);
  sha256_hmac_update (&ctx, w, 1);
  sha256_hmac_final (&ctx);

  u32 aes_key[8];

  for (u32 i = 0; i < 8; i++) aes_key[i] = ctx.opad.h[i];

  for (u32 i = 0; i < 8; i++) w[i] = aes_key[i];

  w[8] = 0x02000000;

  sha256_hmac_init (&ctx, k, 32);
  sha256_hmac_update (&ctx, w, 33);
  sha256_hmac_final (&ctx);

  for (u32 i = 0; i < 16; i++) k[i] = 0;

  for (u32 i = 0; i < 8; i++) k[i] = ctx.opad.h[i];

  // AES-256-CTR from IV over 32 zero bytes: the ciphertext is the key stream

  u32 ks[60];

  AES256_set_encrypt_key (ks, aes_key, s_te0, s_te1, s_te2, s_te3);

  u32 ctr[4];

  ctr[0] = salt_bufs[SALT_POS_HOST].salt_buf[32];
  ctr[1] = salt_bufs[SALT_POS_HOST].salt_buf[33];
  ctr[2] = salt_bufs[SALT_POS_HOST].salt_buf[34];
  ctr[3] = salt_bufs[SALT_POS_HOST].salt_buf[35];

  for (u32 i = 0; i < 16; i++) w[i] = 0;

  AES256_encrypt (ks, ctr, w + 0, s_te0, s_te1, s_te2, s_te3, s_te4);

  mxkeys_ctr128_inc (ctr);

  AES256_encrypt (ks, ctr, w + 4, s_te0, s_te1, s_te2, s_te3, s_te4);

  // MAC = HMAC-SHA-256 (HMAC key, ciphertext)

  sha256_hmac_init (&ctx, k, 32);
  sha256_hmac_update (&ctx, w, 32);
  sha256_hmac_final (&ctx);

  const u32 r0 = ctx.opad.h[0];
  const u32 r1 = ctx.opad.h[1];
  const u32 r2 = ctx.opad.h[2];
  const u32 r3 = ctx.opad.h[3];

  #define il_pos 0

  #ifdef KERNEL_STATIC
  #include COMPARE_M
  #endif
}
