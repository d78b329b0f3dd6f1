/* c2s-notify: the outbox (e-mail, SMS, webhooks) and the keyholder's one-time codes. */
#ifndef C2S_NOTIFYD_H
#define C2S_NOTIFYD_H

#include "firmware/base/config.h"

/* The role's main after exec (fd 3: the parent). */
int notifyd_main(const struct config *cfg);

#endif
