/*
 * certyard's ECDSA check of a CSR signature, with the OpenSSL that node itself links.
 *
 * node:crypto can only verify with a KeyObject, and importing a CSR's EC public key as one runs
 * EC_KEY_check_key, a scalar multiplication by the group order that costs as much as the
 * verification itself; on P-256 and P-384 (cofactor 1) a point on the curve is already a valid
 * public key. Here the point is decoded with EC_POINT_oct2point, which refuses points off the
 * curve, and the signature is checked with ECDSA_verify, which also refuses signatures that are
 * not strict DER. Nothing else is decided here: the caller has parsed the CSR and chosen the
 * curve and the hash.
 *
 * verify(curveBits: 256 | 384, point: Buffer, hash: "sha256" | "sha384" | "sha512",
 *        message: Buffer, derSignature: Buffer): boolean
 */
#include <string.h>
#include <node_api.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

static EC_GROUP *p256;
static EC_GROUP *p384;

static napi_value fail(napi_env env, const char *why) {
  napi_throw_type_error(env, NULL, why);
  return NULL;
}

static int buffer_arg(napi_env env, napi_value v, const unsigned char **data, size_t *len) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return 0;
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = p;
  return 1;
}

static napi_value Verify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 5)
    return fail(env, "verify takes (curveBits, point, hash, message, signature)");

  int32_t bits = 0;
  if (napi_get_value_int32(env, args[0], &bits) != napi_ok) return fail(env, "curveBits must be 256 or 384");
  const EC_GROUP *group = bits == 256 ? p256 : bits == 384 ? p384 : NULL;
  if (group == NULL) return fail(env, "curveBits must be 256 or 384");

  char hash[8] = {0};
  size_t hash_len = 0;
  if (napi_get_value_string_utf8(env, args[2], hash, sizeof hash, &hash_len) != napi_ok)
    return fail(env, "hash must be sha256, sha384 or sha512");
  const EVP_MD *md = strcmp(hash, "sha256") == 0   ? EVP_sha256()
                     : strcmp(hash, "sha384") == 0 ? EVP_sha384()
                     : strcmp(hash, "sha512") == 0 ? EVP_sha512()
                                                   : NULL;
  if (md == NULL) return fail(env, "hash must be sha256, sha384 or sha512");

  const unsigned char *point, *message, *signature;
  size_t point_len, message_len, signature_len;
  if (!buffer_arg(env, args[1], &point, &point_len) || !buffer_arg(env, args[3], &message, &message_len) ||
      !buffer_arg(env, args[4], &signature, &signature_len))
    return fail(env, "point, message and signature must be Buffers");

  /* Only uncompressed points: 0x04 || X || Y, never the point at infinity. */
  size_t field = bits == 256 ? 32 : 48;
  int ok = 0;
  if (point_len == 1 + 2 * field && point[0] == 0x04 && signature_len <= 2 * field + 16) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EC_KEY *key = EC_KEY_new();
    EC_POINT *q = EC_POINT_new(group);
    if (key != NULL && q != NULL && EC_KEY_set_group(key, group) == 1 &&
        EC_POINT_oct2point(group, q, point, point_len, NULL) == 1 && !EC_POINT_is_at_infinity(group, q) &&
        EC_KEY_set_public_key(key, q) == 1 && EVP_Digest(message, message_len, digest, &digest_len, md, NULL) == 1) {
      ok = ECDSA_verify(0, digest, (int)digest_len, signature, (int)signature_len, key) == 1;
    }
    EC_POINT_free(q);
    EC_KEY_free(key);
    /* A refused point or signature leaves errors on this thread's OpenSSL queue, where node's
       own crypto would later read them as its own. */
    ERR_clear_error();
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  if (p256 == NULL || p384 == NULL) return fail(env, "OpenSSL has no P-256 or P-384");
  napi_value fn;
  napi_create_function(env, "verify", NAPI_AUTO_LENGTH, Verify, NULL, &fn);
  napi_set_named_property(env, exports, "verify", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
