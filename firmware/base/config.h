/* Appliance configuration (INI, parsed with inih). Every problem is collected with file,
 * line, key and why, so `click2signd -n -c FILE` can name them all at once. */
#ifndef C2S_CONFIG_H
#define C2S_CONFIG_H

#include <stddef.h>

#include "err.h"

#define CONFIG_MAX_ALLOW  8
#define CONFIG_MAX_ERRORS 32
#define CONFIG_PATH       4096

struct config_problem {
	int line;
	char section[32];
	char key[48];
	char why[256];
};

struct config {
	char path[CONFIG_PATH];
	/* [daemon] */
	char state_dir[CONFIG_PATH];
	int log_level;
	unsigned expiry_warning_days; /* health degraded this long before a certificate ends */
	/* the roles' users when started as root (firmware/base/sandbox.h) */
	char keyholder_user[64], web_user[64], notify_user[64];
	char group[64]; /* supplementary group of web and notify: the main database */
	int sandbox;    /* 0 off, 1 log forbidden calls, 2 enforce (default): sandbox.h */
	/* [web] */
	char listen_host[64];
	int listen_port;
	char cert_listen_host[64];
	int cert_listen_port;
	char tls_cert[CONFIG_PATH];
	char tls_key[CONFIG_PATH];
	char public_url[512];
	size_t max_body; /* bytes */
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned request_timeout; /* seconds */
	unsigned header_timeout; /* seconds from a request's start to its complete header section */
	unsigned body_min_rate;  /* bytes per second a body must keep up after a 10 s grace */
	size_t body_memory;      /* bytes of request bodies buffered at once, all requests */
	unsigned tls_resume;     /* seconds a TLS session ticket stays valid (0 = no resumption) */
	unsigned workers;        /* HTTP worker threads = IPC channels to the keyholder */
	/* reverse proxies whose Forwarded / X-Forwarded-For name the client (limits, logs) */
	char trusted_proxies[CONFIG_MAX_ALLOW][48];
	size_t n_trusted_proxies;
	/* rate limits (web/ratelimit.h): requests a minute and burst; a rate of 0 = off */
	unsigned rate_pages, rate_pages_burst; /* per client address, customer pages /s/... */
	unsigned rate_codes, rate_codes_burst; /* per order, code submissions and re-sends */
	unsigned rate_cert, rate_cert_burst;   /* per client address, certificate listener */
	unsigned rate_api, rate_api_burst;     /* per API client (after authentication) */
	unsigned rate_table;                   /* buckets per kind (24 bytes each) */
	/* [token] */
	char module[CONFIG_PATH];
	char module_allow[CONFIG_MAX_ALLOW][CONFIG_PATH];
	size_t n_module_allow;
	char token_uri[512];
	char pin_file[CONFIG_PATH];
	char sig_pin_file[CONFIG_PATH]; /* PIN for keys that need a context-specific login; empty =
	                                   the user PIN */
	int card;              /* watch the card reader with pcsc-lite: -1 auto (OpenSC), 0, 1 */
	char card_reader[128]; /* reader name substring; empty = any reader */
	char token_dir[CONFIG_PATH]; /* a software token's files, owned by the keyholder's user;
	                                empty = SoftHSM2's directories.tokendir, if SoftHSM2 */
	/* [seal] */
	char seal_key[512];           /* label or pkcs11: URI */
	char seal_chain[CONFIG_PATH]; /* PEM, issuers of the seal certificate (leaf from token or
	                                 first) */
	char seal_name[256];          /* /Name in signatures */
	char seal_reason[256];
	char seal_location[256];
	unsigned seal_rate; /* seal signatures per second the keyholder allows (default 50; 0 =
	                       unlimited) */
	/* [tsa] */
	char tsa_url[512];
	unsigned tsa_timeout_ms;
	char
	    tsa_trust[CONFIG_PATH]; /* PEM anchors for the TSA's certificate; empty = not checked */
	/* [pades] */
	size_t pdf_max; /* bytes */
	/* [pades] parse_memory, parse_cpu: the limits of the child that reads a document first
	 * (pdf_probe); parse_cpu 0: no child */
	size_t pdf_parse_mem;
	unsigned pdf_parse_cpu;
	unsigned pdf_parse_parallel; /* documents read at once */
	int pdf_repair; /* [pades] repair: POST /v1/documents/repair, and orders without the
	                 * portal's signature repair damaged documents in place */
	/* [keyholder] */
	char kh_state_dir[CONFIG_PATH]; /* the keyholder's own store; default <state_dir>/keyholder
	                                 */
	char portal_keys[CONFIG_PATH];  /* PEM public keys of the portal, one per file (*.pem) */
	/* [orders] */
	int portal_signature;        /* 1 required (default), 0 off (explicit deployment choice) */
	unsigned order_max_lifetime; /* seconds an order may live at most (link lifetime cap) */
	/* [otp] */
	unsigned otp_lifetime, otp_tries, otp_per_hour, otp_resend; /* s, count, count, s */
	char otp_text[256]; /* SMS text; %s = the code (exactly once) */
	/* [sad] */
	unsigned sad_lifetime; /* seconds */
	/* [notify] */
	char smtp_url[512];  /* smtp:// or smtps:// relay; empty = no e-mail */
	char smtp_from[256]; /* envelope and From: address */
	char smtp_user[128];
	char smtp_password_file[CONFIG_PATH];
	char smtp_ca[CONFIG_PATH];
	int smtp_starttls; /* smtp:// only: refuse to send without STARTTLS */
	char sms_url[512]; /* SMS gateway (POST {"to","text"}); empty = no SMS */
	char sms_token_file[CONFIG_PATH];
	char webhook_url[512];                 /* portal webhook; empty = none */
	char webhook_secret_file[CONFIG_PATH]; /* HMAC key for X-Click2Sign-Signature */
	char mail_domain[254];                 /* Message-ID domain */
	unsigned notify_max_attempts;          /* then the message is given up (failed) */
	/* [assertions] login assertions to the portal (API.md section 4) */
	char assertion_key[512]; /* P-256 key in the token (label or URI); empty = none issued */
	char assertion_aud[512]; /* the portal's audience; default: [web] public_url */
	/* [signer] */
	char signer_ca_key[512];           /* issuing-CA key (label or URI); empty = seal mode */
	char signer_ca_chain[CONFIG_PATH]; /* PEM: the issuing CA's certificate, then its issuers */
	char signer_key_type[16];          /* ec:p256 (default), ec:p384, rsa:2048, rsa:3072 */
	/* [certlogin] customers' certificates on the certificate listener (API.md section 3) */
	char cert_public_url[512];   /* the certificate listener as customers reach it; default:
	                                [web] public_url with cert_listen's port, when it has one */
	char trust_dir[CONFIG_PATH]; /* anchors and intermediates (click2sign-admin trust add) */
	char crl_dir[CONFIG_PATH];   /* CRLs (click2sign-admin crl add) */
	char return_urls[CONFIG_MAX_ALLOW][512]; /* allow-listed login return URLs (prefixes) */
	size_t n_return_urls;
	int crl_fetch;          /* fetch CRLs from the certificates' distribution points */
	int require_revocation; /* no current CRL for a certificate that names one refuses */
	unsigned crl_timeout_ms;
	/* problems found while loading */
	struct config_problem problems[CONFIG_MAX_ERRORS];
	size_t n_problems;
};

/* Defaults, then the file. Returns C2S_ERR_CONFIG with cfg->problems filled when anything is
 * wrong (unknown section/key, bad value, missing required file). */
C2S_MUST_CHECK c2s_err config_load(const char *path, struct config *cfg);
void config_defaults(struct config *cfg);
/* In a child process: the parent checked that every named file is readable; each child runs
 * as its own user and reads only its own files, so config_load does not check the others. */
void config_files_checked_by_parent(void);
/* The line of `key` in `[section]` of the file (0 when it is not written there: a default). */
int config_key_line(const char *path, const char *section, const char *key);
/* Prints each problem as "FILE:LINE: [section] key: why" to stderr (the line looked up when the
 * problem was found after parsing; "FILE: [section] key" when the key is not in the file). */
void config_print_problems(const struct config *cfg);
/* Whether `module` is on the allow-list (compared after realpath). */
int config_module_allowed(const struct config *cfg, const char *module);
/* Whether the keyholder watches a card reader ([token] card = yes, or auto with OpenSC). */
int config_card_monitored(const struct config *cfg);

#endif
