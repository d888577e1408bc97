/**
 * mxkeys hash lines, version 1, and the PBKDF2 state: what module_94100.c (key exports) and
 * module_94110.c (Security Phrases) share. The layouts are documented in hashcat/README.md and in
 * mxkeys' src/hashline.rs, which writes them:
 *
 *   $mxkeys$1$e$ROUNDS$SALT(16)$IV(16)$HEAD(48)         key export
 *   $mxkeys$1$s$ITERATIONS$SALT(1..128)$IV(16)$MAC(32)   Security Phrase
 *
 * Binary fields are lowercase hex (uppercase is accepted). A line of another version is refused
 * with its version named on stderr: an old module must never misread a new line.
 *
 * License: Apache-2.0 OR MIT, as mxkeys.
 */

#ifndef MXKEYS_LINE_H
#define MXKEYS_LINE_H

#include <stdio.h>
#include <string.h>

#define MXKEYS_PREFIX      "$mxkeys$"
#define MXKEYS_VERSION     "1"
#define MXKEYS_SALT_MAX    128
#define MXKEYS_HEAD_LEN    48

typedef struct mxkeys_line
{
  char kind;                      // 'e' or 's'
  u32  iterations;                // >= 1
  u8   salt[MXKEYS_SALT_MAX];
  u32  salt_len;
  u8   iv[16];
  u8   tail[MXKEYS_HEAD_LEN];     // export: ciphertext head (48); phrase: MAC (32)
  u32  tail_len;

} mxkeys_line_t;

static int mxkeys_hex_nibble (const char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;

  return -1;
}

// Decode the hex field [pos, pos + len) into out; returns the byte count or -1.
static int mxkeys_unhex (const char *pos, const int len, u8 *out, const int out_max)
{
  if (len <= 0 || (len % 2) != 0 || (len / 2) > out_max) return -1;

  for (int i = 0; i < len / 2; i++)
  {
    const int hi = mxkeys_hex_nibble (pos[2 * i + 0]);
    const int lo = mxkeys_hex_nibble (pos[2 * i + 1]);

    if (hi < 0 || lo < 0) return -1;

    out[i] = (u8) ((hi << 4) | lo);
  }

  return len / 2;
}

/**
 * Parse one line for a module that reads lines of kind `want`. Returns PARSER_OK or a hashcat
 * parser error; a line of another version or kind also gets one line on stderr that says what
 * to do, since hashcat's own message ("Signature unmatched") cannot.
 */
static int mxkeys_parse_line (const char *line_buf, const int line_len, const char want, mxkeys_line_t *out)
{
  const int prefix_len = (int) strlen (MXKEYS_PREFIX);

  if (line_len < prefix_len || memcmp (line_buf, MXKEYS_PREFIX, prefix_len) != 0) return PARSER_SIGNATURE_UNMATCHED;

  const char *p   = line_buf + prefix_len;
  const char *end = line_buf + line_len;

  // the version first, whatever follows it

  const char *v_end = p;

  while (v_end < end && *v_end != '$') v_end++;

  if (v_end == p) return PARSER_SEPARATOR_UNMATCHED;  // no version at all: a cut line

  if ((v_end - p) != 1 || p[0] != MXKEYS_VERSION[0])
  {
    const int shown = (v_end - p) > 12 ? 12 : (int) (v_end - p);

    fprintf (stderr, "mxkeys: hash line version %.*s is not supported: this module reads version %s lines. Use the hashcat module of the mxkeys release that wrote the line.\n", shown, p, MXKEYS_VERSION);

    return PARSER_SIGNATURE_UNMATCHED;
  }

  // split the rest at '$': version, kind, number, salt, iv, tail

  const char *field[6];
  int         flen[6];
  int         n = 0;

  field[0] = p;

  for (const char *q = p; q <= end; q++)
  {
    if (q == end || *q == '$')
    {
      flen[n] = (int) (q - field[n]);

      n++;

      if (q == end) break;

      if (n == 6) return PARSER_SEPARATOR_UNMATCHED;  // a seventh field

      field[n] = q + 1;
    }
  }

  if (n != 6) return PARSER_SEPARATOR_UNMATCHED;

  if (flen[1] != 1 || field[1][0] != want)
  {
    if (flen[1] == 1 && field[1][0] == 'e') fprintf (stderr, "mxkeys: this is a key export line: use -m 94100.\n");
    if (flen[1] == 1 && field[1][0] == 's') fprintf (stderr, "mxkeys: this is a Security Phrase line: use -m 94110.\n");

    return PARSER_SIGNATURE_UNMATCHED;
  }

  out->kind = want;

  // iterations: 1 to 4294967295, decimal digits only

  if (flen[2] < 1 || flen[2] > 10) return PARSER_SALT_ITERATION;

  u64 iter = 0;

  for (int i = 0; i < flen[2]; i++)
  {
    const char c = field[2][i];

    if (c < '0' || c > '9') return PARSER_SALT_ITERATION;

    iter = iter * 10 + (u64) (c - '0');
  }

  if (iter < 1 || iter > 0xffffffffULL) return PARSER_SALT_ITERATION;

  out->iterations = (u32) iter;

  const int salt_len = mxkeys_unhex (field[3], flen[3], out->salt, MXKEYS_SALT_MAX);

  if (salt_len < 1) return PARSER_SALT_LENGTH;
  if (want == 'e' && salt_len != 16) return PARSER_SALT_LENGTH;

  out->salt_len = (u32) salt_len;

  if (mxkeys_unhex (field[4], flen[4], out->iv, 16) != 16) return PARSER_IV_LENGTH;

  const int tail_want = (want == 'e') ? MXKEYS_HEAD_LEN : 32;

  if (flen[5] != tail_want * 2 || mxkeys_unhex (field[5], flen[5], out->tail, MXKEYS_HEAD_LEN) != tail_want) return PARSER_HASH_LENGTH;

  out->tail_len = (u32) tail_want;

  return PARSER_OK;
}

// The PBKDF2 state of a candidate; must match mxkeys_pbkdf2_tmp_t in OpenCL/inc_mxkeys.cl.
typedef struct mxkeys_pbkdf2_tmp
{
  u64  ipad[8];
  u64  opad[8];

  u64  dgst[8];
  u64  out[8];

} mxkeys_pbkdf2_tmp_t;

u64 module_tmp_size (MAYBE_UNUSED const hashconfig_t *hashconfig, MAYBE_UNUSED const user_options_t *user_options, MAYBE_UNUSED const user_options_extra_t *user_options_extra)
{
  return (const u64) sizeof (mxkeys_pbkdf2_tmp_t);
}

// Candidates of any length hashcat allows (the pure kernels take up to 256 bytes).
u32 module_pw_max (MAYBE_UNUSED const hashconfig_t *hashconfig, MAYBE_UNUSED const user_options_t *user_options, MAYBE_UNUSED const user_options_extra_t *user_options_extra)
{
  return PW_MAX;
}

// Bytes to big-endian words (the order the kernels' SHA and AES helpers use).
static void mxkeys_be_words (const u8 *in, const int len, u32 *out)
{
  for (int i = 0; i < len / 4; i++)
  {
    out[i] = ((u32) in[4 * i + 0] << 24)
           | ((u32) in[4 * i + 1] << 16)
           | ((u32) in[4 * i + 2] <<  8)
           | ((u32) in[4 * i + 3] <<  0);
  }
}

#endif // MXKEYS_LINE_H
