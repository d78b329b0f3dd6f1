/* The HTTPS listeners of c2s-web. */
#ifndef C2S_WEB_SERVER_H
#define C2S_WEB_SERVER_H

#include <microhttpd.h>

struct web_ctx;

struct web_listener {
	struct web_ctx *ctx;
	int cert_listener;
};

/* Start libmicrohttpd on an already bound and listening socket. NULL on failure. */
struct MHD_Daemon *web_server_start(struct web_listener *l, int fd, const char *cert_pem,
                                    const char *key_pem, const char *trust_pem);

#endif
