/* PAdES baseline signing (EN 319 142-1): B-B, B-T, B-LT. Independent of where the private
 * key is: the caller passes a callback that signs the DER signed attributes (in the
 * daemon: an IPC round-trip to the keyholder, which re-checks and hashes them itself). */
#ifndef C2S_PADES_H
#define C2S_PADES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cms.h"
#include "pdf.h"
#include "tsa.h"
#include "firmware/base/buf.h"
#include "firmware/base/err.h"
#include "firmware/base/sha256.h"

enum pades_level { PADES_B_B = 1, PADES_B_T = 2, PADES_B_LT = 3 };
/* "B-B" | "B-T" | "B-LT" → level; -1 when unknown. */
int pades_level_parse(const char *s);

/* Sign `attrs` (DER SET of signed attributes): write the signature into sig/sig_len
 * (capacity *sig_len on entry). */
typedef c2s_err (*pades_sign_cb)(void *ctx, const uint8_t *attrs, size_t attrs_len, uint8_t *sig,
                                 size_t *sig_len);

struct pades_request {
	enum pades_level level;
	const struct cms_signer *signer;
	size_t sig_max; /* max signature size for the key */
	pades_sign_cb sign;
	void *sign_ctx;
	const struct tsa_config *tsa; /* required for B-T and B-LT */
	struct pdf_sig_params params; /* contents_max computed by pades if 0 */
	size_t max_len;               /* input size limit, 0 = none */
	/* B-LT revocation data, DER (CRLs); fetched by the caller. */
	const uint8_t *const *crls;
	const size_t *crl_lens;
	size_t n_crls;
	/* Bytes reserved in /Contents for the time-stamp token (B-T, B-LT); 0 = the larger of
	 * PADES_TST_BUDGET and the largest token the TSA gave so far plus PADES_TST_SLACK. The
	 * token only exists after the signature, so its size is learnt from the TSA's previous
	 * tokens (tsa_seen: the first B-T or B-LT signature of the process asks the TSA once over
	 * a random imprint): a budget smaller than the TSA's tokens is refused with
	 * C2S_ERR_TOO_BIG before anything is signed. */
	size_t tst_max;
	/* B-LT: also fetch the CRLs of the time-stamp token's certificates (strict, see
	 * rev_chain_crls) with this timeout, and put them in /DSS. 0: only `crls`. pades_run
	 * fetches them before signing too, from the certificates the TSA's last token carried,
	 * so that here they come from the cache. */
	long tsa_rev_timeout_ms;
	/* SHA-256 over the whole input document, taken as it arrived (c2s-web hashes a seal's
	 * body while receiving it), or NULL. Used when the key hashes with SHA-256 and it covers
	 * exactly the document; then only the update is hashed here. */
	const struct c2s_sha256 *prefix;
};

/* Default token budget: the test TSA's tokens are ~2.1 KB (RSA-2048 TSA key, certificate
 * and P-384 root included); public TSAs with RSA-4096 and 3-certificate chains reach ~7 KB. */
#define PADES_TST_BUDGET 8192
/* Room kept over the largest token seen: tokens of one TSA differ by a few bytes (serial
 * number, nonce, ECDSA signature lengths). */
#define PADES_TST_SLACK 256
/* Certificates one B-LT /DSS update may add: the signer's chain and the TSA's. */
#define PADES_MAX_DSS_CERTS (CMS_MAX_CHAIN + 1 + TSA_SEEN_CERTS)

/* Result: output = original || update (|| dss_update for B-LT). */
struct pades_result {
	struct buf update;
	struct buf dss_update;
	size_t orig_len;
	enum pades_level level;    /* the level reached (pades_run_remote may fall back to B-B) */
	char notes[PDF_NOTES_MAX]; /* harmless defects of the input accepted (pdf_prepared) */
};

C2S_MUST_CHECK c2s_err pades_sign(const uint8_t *pdf, size_t len, const struct pades_request *r,
                                  struct pades_result *out, char *why, size_t why_cap);
void pades_result_free(struct pades_result *res);

/* Time-stamp (B-T and up) over `sig` and the CMS SignedData into the prepared placeholder. */
C2S_MUST_CHECK c2s_err pades_fill(const struct cms_signer *s, enum pades_level level,
                                  const struct tsa_config *tsa, const struct buf *attrs,
                                  const uint8_t *sig, size_t sl, struct pdf_prepared *pp,
                                  struct buf *tok, char *why, size_t why_cap);

/* Customer signing: the signer holds the key AND builds the signed attributes itself (the
 * keyholder's SAD path). It gets the SHA-256 midstate of the original and the prepared update,
 * and returns the attributes it built, the signature and its certificates. */
struct pades_remote_out {
	struct buf owned; /* backing bytes for the views below (the callback fills it) */
	const uint8_t *attrs, *sig;
	size_t attrs_len, sig_len;
	struct cms_signer signer; /* views into `owned` */
};
typedef c2s_err (*pades_remote_cb)(void *ctx, const struct buf *midstate, const uint8_t *update,
                                   size_t update_len, struct pades_remote_out *out, char *why,
                                   size_t why_cap);
struct pades_remote_job {
	enum pades_level level; /* B-B or B-T (B-LT needs revocation data: not for orders yet) */
	const struct tsa_config *tsa; /* B-T */
	struct pdf_sig_params params; /* contents_max 0: a budget for a short chain */
	size_t max_len;
	pades_remote_cb sign;
	void *sign_ctx;
};
/* Placeholder budget for a remote signer's CMS: certificates unknown when the update is made. */
#define PADES_REMOTE_BUDGET 12288
C2S_MUST_CHECK c2s_err pades_run_remote(const struct pades_remote_job *job, const uint8_t *pdf,
                                        size_t len, struct pades_result *out, char *why,
                                        size_t why_cap);

/* One signing job, from the document to its signed revisions: what the seal route and
 * customer signing share. The key's certificates come from its holder (cached until the
 * holder restarts), the level decides the time-stamp and the revocation data, and every
 * refusal of the document or the key is decided here. */
struct pades_key {
	struct cms_signer signer; /* certificates malloc'd, freed by pades_key_clear */
	size_t sig_max;
};
void pades_key_clear(struct pades_key *k);

/* Where a key lives (in the daemon: the keyholder, over IPC). */
struct pades_keysrc {
	/* The key's certificate, chain and algorithms, as malloc'd copies in `k`. */
	c2s_err (*info)(void *ctx, struct pades_key *k, char *why, size_t why_cap);
	/* Sign DER signed attributes; the holder re-checks and hashes them itself. */
	c2s_err (*sign)(void *ctx, const uint8_t *attrs, size_t len, uint8_t *sig, size_t *sig_len,
	                char *why, size_t why_cap);
	/* Changes whenever the holder restarts: cached info of another generation is fetched
	 * again. NULL: never cached. */
	uint32_t (*generation)(void *ctx);
	void *ctx;
	/* the cache; set up with PADES_KEYSRC_CACHE */
	pthread_mutex_t mu;
	uint32_t gen;
	struct pades_key cached;
};
#define PADES_KEYSRC_CACHE .mu = PTHREAD_MUTEX_INITIALIZER

struct pades_job {
	enum pades_level level;
	const struct tsa_config *tsa;    /* NULL: no TSA configured, B-T and B-LT are refused */
	struct pdf_sig_params params;    /* name, reason, location, time */
	size_t max_len;                  /* input size limit, 0 = none */
	long fetch_timeout_ms;           /* B-LT: fetching revocation data */
	const struct c2s_sha256 *prefix; /* as in pades_request */
};

/* Sign `pdf` as `job` says with the key of `ks`. On success `out` holds the revisions to
 * append (the caller streams pdf || out->update || out->dss_update). */
C2S_MUST_CHECK c2s_err pades_run(struct pades_keysrc *ks, const struct pades_job *job,
                                 const uint8_t *pdf, size_t len, struct pades_result *out,
                                 char *why, size_t why_cap);

#endif
