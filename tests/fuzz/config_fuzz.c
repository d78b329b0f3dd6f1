/* Fuzz target: the configuration file (/etc/click2sign/c2s.conf) through config_load, the
 * daemon's and click2sign-admin's reader (inih, then every key's parser and the cross-checks),
 * and config_key_line, which finds a problem's line for the message. The input is the file,
 * handed over as a memfd so nothing touches the disk. Paths it names are only access()ed.
 * The seeds follow tests/tools/appliance.sh's configuration and docs/INSTALL.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "firmware/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg; /* large: not on the stack */

static int terminated(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("c2s-conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c2s_err e = config_load(path, &cfg);
	if ((e == C2S_OK) != (cfg.n_problems == 0) || cfg.n_problems > CONFIG_MAX_ERRORS)
		abort();
	for (size_t i = 0; i < cfg.n_problems; i++) {
		const struct config_problem *p = &cfg.problems[i];
		if (!terminated(p->section, sizeof(p->section)) ||
		    !terminated(p->key, sizeof(p->key)) || !terminated(p->why, sizeof(p->why)) ||
		    p->line < 0)
			abort();
		if (p->line == 0 && p->section[0] && p->key[0])
			(void)config_key_line(path, p->section, p->key);
	}
	if (!terminated(cfg.state_dir, sizeof(cfg.state_dir)) ||
	    !terminated(cfg.public_url, sizeof(cfg.public_url)) ||
	    !terminated(cfg.otp_text, sizeof(cfg.otp_text)) ||
	    !terminated(cfg.cert_public_url, sizeof(cfg.cert_public_url)) ||
	    cfg.n_return_urls > CONFIG_MAX_ALLOW)
		abort();
	close(fd);
	return 0;
}
