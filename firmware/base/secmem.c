#include "secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

/* Each secret gets pages of its own: mapped, locked and kept out of core dumps, so that freeing
 * one never unlocks another that shared its page (munlock works on whole pages), and the size
 * in front of it lets secmem_free find the whole mapping. */
struct secmem_hdr {
	size_t len; /* of the mapping */
	size_t pad;
};

void *secmem_alloc(size_t n)
{
	static int warned;
	long page = sysconf(_SC_PAGESIZE);
	size_t ps = page > 0 ? (size_t)page : 4096;
	size_t len = (n + sizeof(struct secmem_hdr) + ps - 1) / ps * ps;
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, len, MADV_DONTDUMP);
	/* the system call itself: sanitizer runtimes replace mlock() with a no-op */
	if (syscall(SYS_mlock, m, len) != 0 && !warned) {
		warned = 1; /* the operator sees it once: secrets may reach swap */
		log_warn(
		    "cannot lock memory for secrets (%s): PINs and keys may be written to swap; "
		    "raise the memory-lock limit (LimitMEMLOCK=, ulimit -l)",
		    strerror(errno));
	}
	struct secmem_hdr *h = m;
	h->len = len;
	return h + 1;
}

void secmem_free(void *p, size_t n)
{
	if (!p)
		return;
	struct secmem_hdr *h = (struct secmem_hdr *)p - 1;
	size_t len = h->len;
	(void)n;
	explicit_bzero(h, len);
	(void)syscall(SYS_munlock, h, len);
	munmap(h, len);
}

int secmem_cmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

c2s_err secmem_read_secret_file(const char *path, char *out, size_t cap, size_t *len, char *why,
                                size_t why_cap)
{
	c2s_err ret = C2S_ERR_PIN_FILE;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP) {
		snprintf(why, why_cap,
		         "%s is a symbolic link; a PIN is read only from a regular file (point the "
		         "setting at the file itself)",
		         path);
		goto out;
	}
	if (fd < 0) {
		snprintf(why, why_cap, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_cap, "%s is not a regular file", path);
		goto out;
	}
	/* root (the parent's readiness check, click2sign-admin) reads what the daemon gave its
	 * roles' users */
	if (st.st_uid != geteuid() && geteuid() != 0) {
		snprintf(why, why_cap, "%s must be owned by the service user (uid %u), not uid %u",
		         path, (unsigned)geteuid(), (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(why, why_cap, "%s has mode %04o; it must be 0600 (chmod 600 %s)", path,
		         (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	ssize_t n = read(fd, out, cap - 1);
	if (n < 0) {
		snprintf(why, why_cap, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if ((size_t)n == cap - 1) {
		snprintf(why, why_cap, "%s is too long for a PIN", path);
		explicit_bzero(out, cap);
		goto out;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = 0;
	if (n == 0) {
		snprintf(why, why_cap, "%s is empty", path);
		goto out;
	}
	/* a stray space would be sent as part of the PIN and cost one of the token's tries */
	if (out[0] == ' ' || out[0] == '\t' || out[n - 1] == ' ' || out[n - 1] == '\t') {
		snprintf(why, why_cap,
		         "%s %s with a space or tab, which would be sent as part of the PIN (and "
		         "use up one of the token's tries); remove it",
		         path, (out[0] == ' ' || out[0] == '\t') ? "starts" : "ends");
		explicit_bzero(out, cap);
		goto out;
	}
	*len = (size_t)n;
	ret = C2S_OK;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
