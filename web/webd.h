/* c2s-web: the process that parses network input (HTTP, JSON, PDF) and never holds keys. */
#ifndef C2S_WEBD_H
#define C2S_WEBD_H

#include "firmware/base/config.h"

/* Entry point of the exec'd c2s-web process. */
int webd_main(const struct config *cfg);

#endif
