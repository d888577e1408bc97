/**
 * What mxkeys' two kernels (m94100-pure.cl, m94110-pure.cl) share: the PBKDF2-HMAC-SHA512 state
 * and its first and further rounds, and the AES-CTR counter.
 *
 * The PBKDF2 code is hashcat's own (OpenCL/m07100-pure.cl, MIT, see hashcat's docs/credits.txt),
 * cut to the one 64-byte block both targets use and made into functions the kernels call.
 * License: Apache-2.0 OR MIT, as mxkeys (the hashcat parts: MIT).
 */

#ifndef INC_MXKEYS_CL
#define INC_MXKEYS_CL

// Must match mxkeys_pbkdf2_tmp_t in mxkeys_line.h (the modules' tmp size).
typedef struct mxkeys_pbkdf2_tmp
{
  u64  ipad[8];
  u64  opad[8];

  u64  dgst[8];
  u64  out[8];

} mxkeys_pbkdf2_tmp_t;

DECLSPEC void hmac_sha512_run_V (PRIVATE_AS u32x *w0, PRIVATE_AS u32x *w1, PRIVATE_AS u32x *w2, PRIVATE_AS u32x *w3, PRIVATE_AS u32x *w4, PRIVATE_AS u32x *w5, PRIVATE_AS u32x *w6, PRIVATE_AS u32x *w7, PRIVATE_AS u64x *ipad, PRIVATE_AS u64x *opad, PRIVATE_AS u64x *digest)
{
  digest[0] = ipad[0];
  digest[1] = ipad[1];
  digest[2] = ipad[2];
  digest[3] = ipad[3];
  digest[4] = ipad[4];
  digest[5] = ipad[5];
  digest[6] = ipad[6];
  digest[7] = ipad[7];

  sha512_transform_vector (w0, w1, w2, w3, w4, w5, w6, w7, digest);

  w0[0] = h32_from_64 (digest[0]);
  w0[1] = l32_from_64 (digest[0]);
  w0[2] = h32_from_64 (digest[1]);
  w0[3] = l32_from_64 (digest[1]);
  w1[0] = h32_from_64 (digest[2]);
  w1[1] = l32_from_64 (digest[2]);
  w1[2] = h32_from_64 (digest[3]);
  w1[3] = l32_from_64 (digest[3]);
  w2[0] = h32_from_64 (digest[4]);
  w2[1] = l32_from_64 (digest[4]);
  w2[2] = h32_from_64 (digest[5]);
  w2[3] = l32_from_64 (digest[5]);
  w3[0] = h32_from_64 (digest[6]);
  w3[1] = l32_from_64 (digest[6]);
  w3[2] = h32_from_64 (digest[7]);
  w3[3] = l32_from_64 (digest[7]);
  w4[0] = 0x80000000;
  w4[1] = 0;
  w4[2] = 0;
  w4[3] = 0;
  w5[0] = 0;
  w5[1] = 0;
  w5[2] = 0;
  w5[3] = 0;
  w6[0] = 0;
  w6[1] = 0;
  w6[2] = 0;
  w6[3] = 0;
  w7[0] = 0;
  w7[1] = 0;
  w7[2] = 0;
  w7[3] = (128 + 64) * 8;

  digest[0] = opad[0];
  digest[1] = opad[1];
  digest[2] = opad[2];
  digest[3] = opad[3];
  digest[4] = opad[4];
  digest[5] = opad[5];
  digest[6] = opad[6];
  digest[7] = opad[7];

  sha512_transform_vector (w0, w1, w2, w3, w4, w5, w6, w7, digest);
}

/**
 * The first round: HMAC pads of the candidate and U1 = HMAC (candidate, salt || 00000001).
 * The salt is salt_len bytes at the start of salt_buf (in memory order); it is copied into a
 * zero-padded block, since hashcat's update functions expect zeros after the data and a line's
 * salt_buf goes on past the salt. At most 128 bytes.
 */
DECLSPEC void mxkeys_pbkdf2_init (GLOBAL_AS const pw_t *pw, GLOBAL_AS mxkeys_pbkdf2_tmp_t *tmp, GLOBAL_AS const salt_t *salt)
{
  sha512_hmac_ctx_t sha512_hmac_ctx;

  sha512_hmac_init_global_swap (&sha512_hmac_ctx, pw->i, pw->pw_len);

  tmp->ipad[0] = sha512_hmac_ctx.ipad.h[0];
  tmp->ipad[1] = sha512_hmac_ctx.ipad.h[1];
  tmp->ipad[2] = sha512_hmac_ctx.ipad.h[2];
  tmp->ipad[3] = sha512_hmac_ctx.ipad.h[3];
  tmp->ipad[4] = sha512_hmac_ctx.ipad.h[4];
  tmp->ipad[5] = sha512_hmac_ctx.ipad.h[5];
  tmp->ipad[6] = sha512_hmac_ctx.ipad.h[6];
  tmp->ipad[7] = sha512_hmac_ctx.ipad.h[7];

  tmp->opad[0] = sha512_hmac_ctx.opad.h[0];
  tmp->opad[1] = sha512_hmac_ctx.opad.h[1];
  tmp->opad[2] = sha512_hmac_ctx.opad.h[2];
  tmp->opad[3] = sha512_hmac_ctx.opad.h[3];
  tmp->opad[4] = sha512_hmac_ctx.opad.h[4];
  tmp->opad[5] = sha512_hmac_ctx.opad.h[5];
  tmp->opad[6] = sha512_hmac_ctx.opad.h[6];
  tmp->opad[7] = sha512_hmac_ctx.opad.h[7];

  // The salt, zero-padded to a whole SHA-512 block: hashcat's update functions expect zeros
  // after the data, and this line's salt_buf goes on past the salt.

  u32 s[32];

  for (u32 i = 0; i < 32; i++) s[i] = 0;

  for (u32 i = 0; i < (salt->salt_len + 3) / 4; i++) s[i] = salt->salt_buf[i];

  sha512_hmac_update_swap (&sha512_hmac_ctx, s, salt->salt_len);

  for (u32 i = 0, j = 1; i < 8; i += 8, j += 1)
  {
    sha512_hmac_ctx_t sha512_hmac_ctx2 = sha512_hmac_ctx;

    u32 w0[4];
    u32 w1[4];
    u32 w2[4];
    u32 w3[4];
    u32 w4[4];
    u32 w5[4];
    u32 w6[4];
    u32 w7[4];

    w0[0] = j;
    w0[1] = 0;
    w0[2] = 0;
    w0[3] = 0;
    w1[0] = 0;
    w1[1] = 0;
    w1[2] = 0;
    w1[3] = 0;
    w2[0] = 0;
    w2[1] = 0;
    w2[2] = 0;
    w2[3] = 0;
    w3[0] = 0;
    w3[1] = 0;
    w3[2] = 0;
    w3[3] = 0;
    w4[0] = 0;
    w4[1] = 0;
    w4[2] = 0;
    w4[3] = 0;
    w5[0] = 0;
    w5[1] = 0;
    w5[2] = 0;
    w5[3] = 0;
    w6[0] = 0;
    w6[1] = 0;
    w6[2] = 0;
    w6[3] = 0;
    w7[0] = 0;
    w7[1] = 0;
    w7[2] = 0;
    w7[3] = 0;

    sha512_hmac_update_128 (&sha512_hmac_ctx2, w0, w1, w2, w3, w4, w5, w6, w7, 4);

    sha512_hmac_final (&sha512_hmac_ctx2);

    tmp->dgst[i + 0] = sha512_hmac_ctx2.opad.h[0];
    tmp->dgst[i + 1] = sha512_hmac_ctx2.opad.h[1];
    tmp->dgst[i + 2] = sha512_hmac_ctx2.opad.h[2];
    tmp->dgst[i + 3] = sha512_hmac_ctx2.opad.h[3];
    tmp->dgst[i + 4] = sha512_hmac_ctx2.opad.h[4];
    tmp->dgst[i + 5] = sha512_hmac_ctx2.opad.h[5];
    tmp->dgst[i + 6] = sha512_hmac_ctx2.opad.h[6];
    tmp->dgst[i + 7] = sha512_hmac_ctx2.opad.h[7];

    tmp->out[i + 0] = tmp->dgst[i + 0];
    tmp->out[i + 1] = tmp->dgst[i + 1];
    tmp->out[i + 2] = tmp->dgst[i + 2];
    tmp->out[i + 3] = tmp->dgst[i + 3];
    tmp->out[i + 4] = tmp->dgst[i + 4];
    tmp->out[i + 5] = tmp->dgst[i + 5];
    tmp->out[i + 6] = tmp->dgst[i + 6];
    tmp->out[i + 7] = tmp->dgst[i + 7];
  }
}

// Rounds 2.. of the block, loop_cnt of them per call (hashcat splits salt_iter into calls).
DECLSPEC void mxkeys_pbkdf2_loop (GLOBAL_AS mxkeys_pbkdf2_tmp_t *tmps, const u64 gid, const u32 loop_cnt)
{
  u64x ipad[8];
  u64x opad[8];

  ipad[0] = pack64v (tmps, ipad, gid, 0);
  ipad[1] = pack64v (tmps, ipad, gid, 1);
  ipad[2] = pack64v (tmps, ipad, gid, 2);
  ipad[3] = pack64v (tmps, ipad, gid, 3);
  ipad[4] = pack64v (tmps, ipad, gid, 4);
  ipad[5] = pack64v (tmps, ipad, gid, 5);
  ipad[6] = pack64v (tmps, ipad, gid, 6);
  ipad[7] = pack64v (tmps, ipad, gid, 7);

  opad[0] = pack64v (tmps, opad, gid, 0);
  opad[1] = pack64v (tmps, opad, gid, 1);
  opad[2] = pack64v (tmps, opad, gid, 2);
  opad[3] = pack64v (tmps, opad, gid, 3);
  opad[4] = pack64v (tmps, opad, gid, 4);
  opad[5] = pack64v (tmps, opad, gid, 5);
  opad[6] = pack64v (tmps, opad, gid, 6);
  opad[7] = pack64v (tmps, opad, gid, 7);

  for (u32 i = 0; i < 8; i += 8)
  {
    u64x dgst[8];
    u64x out[8];

    dgst[0] = pack64v (tmps, dgst, gid, i + 0);
    dgst[1] = pack64v (tmps, dgst, gid, i + 1);
    dgst[2] = pack64v (tmps, dgst, gid, i + 2);
    dgst[3] = pack64v (tmps, dgst, gid, i + 3);
    dgst[4] = pack64v (tmps, dgst, gid, i + 4);
    dgst[5] = pack64v (tmps, dgst, gid, i + 5);
    dgst[6] = pack64v (tmps, dgst, gid, i + 6);
    dgst[7] = pack64v (tmps, dgst, gid, i + 7);

    out[0] = pack64v (tmps, out, gid, i + 0);
    out[1] = pack64v (tmps, out, gid, i + 1);
    out[2] = pack64v (tmps, out, gid, i + 2);
    out[3] = pack64v (tmps, out, gid, i + 3);
    out[4] = pack64v (tmps, out, gid, i + 4);
    out[5] = pack64v (tmps, out, gid, i + 5);
    out[6] = pack64v (tmps, out, gid, i + 6);
    out[7] = pack64v (tmps, out, gid, i + 7);

    for (u32 j = 0; j < loop_cnt; j++)
    {
      u32x w0[4];
      u32x w1[4];
      u32x w2[4];
      u32x w3[4];
      u32x w4[4];
      u32x w5[4];
      u32x w6[4];
      u32x w7[4];

      w0[0] = h32_from_64 (dgst[0]);
      w0[1] = l32_from_64 (dgst[0]);
      w0[2] = h32_from_64 (dgst[1]);
      w0[3] = l32_from_64 (dgst[1]);
      w1[0] = h32_from_64 (dgst[2]);
      w1[1] = l32_from_64 (dgst[2]);
      w1[2] = h32_from_64 (dgst[3]);
      w1[3] = l32_from_64 (dgst[3]);
      w2[0] = h32_from_64 (dgst[4]);
      w2[1] = l32_from_64 (dgst[4]);
      w2[2] = h32_from_64 (dgst[5]);
      w2[3] = l32_from_64 (dgst[5]);
      w3[0] = h32_from_64 (dgst[6]);
      w3[1] = l32_from_64 (dgst[6]);
      w3[2] = h32_from_64 (dgst[7]);
      w3[3] = l32_from_64 (dgst[7]);
      w4[0] = 0x80000000;
      w4[1] = 0;
      w4[2] = 0;
      w4[3] = 0;
      w5[0] = 0;
      w5[1] = 0;
      w5[2] = 0;
      w5[3] = 0;
      w6[0] = 0;
      w6[1] = 0;
      w6[2] = 0;
      w6[3] = 0;
      w7[0] = 0;
      w7[1] = 0;
      w7[2] = 0;
      w7[3] = (128 + 64) * 8;

      hmac_sha512_run_V (w0, w1, w2, w3, w4, w5, w6, w7, ipad, opad, dgst);

      out[0] ^= dgst[0];
      out[1] ^= dgst[1];
      out[2] ^= dgst[2];
      out[3] ^= dgst[3];
      out[4] ^= dgst[4];
      out[5] ^= dgst[5];
      out[6] ^= dgst[6];
      out[7] ^= dgst[7];
    }

    unpack64v (tmps, dgst, gid, i + 0, dgst[0]);
    unpack64v (tmps, dgst, gid, i + 1, dgst[1]);
    unpack64v (tmps, dgst, gid, i + 2, dgst[2]);
    unpack64v (tmps, dgst, gid, i + 3, dgst[3]);
    unpack64v (tmps, dgst, gid, i + 4, dgst[4]);
    unpack64v (tmps, dgst, gid, i + 5, dgst[5]);
    unpack64v (tmps, dgst, gid, i + 6, dgst[6]);
    unpack64v (tmps, dgst, gid, i + 7, dgst[7]);

    unpack64v (tmps, out, gid, i + 0, out[0]);
    unpack64v (tmps, out, gid, i + 1, out[1]);
    unpack64v (tmps, out, gid, i + 2, out[2]);
    unpack64v (tmps, out, gid, i + 3, out[3]);
    unpack64v (tmps, out, gid, i + 4, out[4]);
    unpack64v (tmps, out, gid, i + 5, out[5]);
    unpack64v (tmps, out, gid, i + 6, out[6]);
    unpack64v (tmps, out, gid, i + 7, out[7]);
  }
}

DECLSPEC void mxkeys_ctr128_inc (PRIVATE_AS u32 *ctr)
{
  // the 128-bit big-endian counter of the ctr crate's Ctr128BE, as mxkeys counts
  ctr[3]++;

  if (ctr[3] == 0)
  {
    ctr[2]++;

    if (ctr[2] == 0)
    {
      ctr[1]++;

      if (ctr[1] == 0) ctr[0]++;
    }
  }
}

#endif // INC_MXKEYS_CL
