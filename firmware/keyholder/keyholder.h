/* The keyholder (Signature Activation Module): the only process that loads the PKCS#11
 * module and holds the PIN. It talks to the parent and to c2s-web over IPC only. */
#ifndef C2S_KEYHOLDER_H
#define C2S_KEYHOLDER_H

#include "firmware/base/config.h"

/* Entry point of the exec'd c2s-keyholder process. */
int keyholder_main(const struct config *cfg);

#endif
