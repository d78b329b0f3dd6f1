#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/base/log.h"
#include "firmware/base/sha256.h"

#define BLOB_DIR   "blobs"
#define BLOB_TMP   ".tmp-"
#define BLOB_CHUNK 65536

static void blob_hex(const uint8_t sha[32], char hex[65])
{
	static const char d[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = d[sha[i] >> 4];
		hex[2 * i + 1] = d[sha[i] & 15];
	}
	hex[64] = 0;
}

static c2s_err blob_sha256(const void *p, size_t n, uint8_t sha[32])
{
	if (!p && n)
		return C2S_ERR_ARG;
	c2s_sha256_oneshot(p, n, sha);
	return C2S_OK;
}

static c2s_err blob_dir(const char *state_dir, char *out, size_t cap)
{
	if (!state_dir || !state_dir[0] ||
	    (size_t)snprintf(out, cap, "%s/" BLOB_DIR, state_dir) >= cap)
		return C2S_ERR_ARG;
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", out, strerror(errno));
		return C2S_ERR_IO;
	}
	return C2S_OK;
}

c2s_err blob_path(const char *state_dir, const uint8_t sha[32], char *out, size_t cap)
{
	char hex[65];
	blob_hex(sha, hex);
	if (!state_dir || !state_dir[0] ||
	    (size_t)snprintf(out, cap, "%s/" BLOB_DIR "/%s", state_dir, hex) >= cap)
		return C2S_ERR_ARG;
	return C2S_OK;
}

static c2s_err blob_errno(const char *what, const char *path)
{
	log_error("%s %s: %s", what, path, strerror(errno));
	return errno == ENOSPC || errno == EDQUOT ? C2S_ERR_STORE_FULL : C2S_ERR_IO;
}

static c2s_err blob_write_all(int fd, const uint8_t *p, size_t n, const char *path)
{
	while (n) {
		ssize_t w = write(fd, p, n > BLOB_CHUNK * 16 ? BLOB_CHUNK * 16 : n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return blob_errno("cannot write", path);
		p += w;
		n -= (size_t)w;
	}
	return C2S_OK;
}

static c2s_err blob_sync_dir(const char *dir)
{
	c2s_err ret = C2S_ERR_IO;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = blob_errno("cannot open", dir);
		goto out;
	}
	if (fsync(fd) != 0) {
		ret = blob_errno("cannot fsync", dir);
		goto out;
	}
	ret = C2S_OK;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

c2s_err blob_put(const char *state_dir, const void *data, size_t len, uint8_t sha[32])
{
	if (!data && len != 0)
		return C2S_ERR_ARG;
	c2s_err e = blob_sha256(data, len, sha);
	return e != C2S_OK ? e : blob_put_hashed(state_dir, data, len, sha);
}

c2s_err blob_put_hashed(const char *state_dir, const void *data, size_t len, const uint8_t sha[32])
{
	c2s_err ret = C2S_ERR_IO;
	char dir[BLOB_PATH_MAX], path[BLOB_PATH_MAX], tmp[BLOB_PATH_MAX];
	struct stat st;
	int fd = -1;
	tmp[0] = 0;
	ENSURE(data || len == 0, C2S_ERR_ARG);
	GUARD(blob_dir(state_dir, dir, sizeof(dir)));
	GUARD(blob_path(state_dir, sha, path, sizeof(path)));
	/* Content-addressed: a complete file under this name already holds these bytes (only a
	 * rename puts a file there). */
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
		ret = C2S_OK;
		goto out;
	}
	ENSURE((size_t)snprintf(tmp, sizeof(tmp), "%s/" BLOB_TMP "XXXXXX", dir) < sizeof(tmp),
	       C2S_ERR_ARG);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = blob_errno("cannot create a temp file in", dir);
		tmp[0] = 0;
		goto out;
	}
	/* readable by notify (the directory's group), which mails signed documents */
	ENSURE(fchmod(fd, 0640) == 0, blob_errno("cannot set the mode of", tmp));
	GUARD(blob_write_all(fd, data, len, tmp));
	if (fsync(fd) != 0) {
		ret = blob_errno("cannot fsync", tmp);
		goto out;
	}
	ENSURE(close(fd) == 0, blob_errno("cannot close", tmp));
	fd = -1;
	if (rename(tmp, path) != 0) {
		ret = blob_errno("cannot rename to", path);
		goto out;
	}
	tmp[0] = 0;
	GUARD(blob_sync_dir(dir));
	ret = C2S_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return ret;
}

c2s_err blob_read(const char *state_dir, const uint8_t sha[32], size_t max, struct buf *out)
{
	c2s_err ret = C2S_ERR_IO;
	char path[BLOB_PATH_MAX];
	uint8_t got[32];
	struct stat st;
	int fd = -1;
	buf_init(out, max);
	GUARD(blob_path(state_dir, sha, path, sizeof(path)));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = errno == ENOENT ? C2S_ERR_NOT_FOUND : blob_errno("cannot open", path);
		goto out;
	}
	ENSURE(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), C2S_ERR_IO);
	ENSURE((uint64_t)st.st_size <= max, C2S_ERR_TOO_BIG);
	GUARD(buf_reserve(out, (size_t)st.st_size));
	for (;;) {
		size_t room = out->cap - out->len;
		if (room == 0) {
			/* full as reserved: the file must end here (it is never rewritten in
			 * place; more bytes would mean someone is writing to it) */
			uint8_t extra;
			ssize_t r = read(fd, &extra, 1);
			ENSURE(r == 0, r < 0 ? blob_errno("cannot read", path) : C2S_ERR_IO);
			break;
		}
		ssize_t r = read(fd, out->data + out->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = blob_errno("cannot read", path);
			goto out;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	GUARD(blob_sha256(out->data, out->len, got));
	if (memcmp(got, sha, 32) != 0) {
		log_error("%s does not hold the bytes its name says; the storage is damaged", path);
		ret = C2S_ERR_IO;
		goto out;
	}
	ret = C2S_OK;
out:
	if (fd >= 0)
		close(fd);
	if (ret != C2S_OK)
		buf_free(out);
	return ret;
}

c2s_err blob_clean_tmp(const char *state_dir, size_t *removed)
{
	c2s_err ret = C2S_ERR_IO;
	char dir[BLOB_PATH_MAX];
	DIR *d = NULL;
	struct dirent *e;
	size_t n = 0;
	GUARD(blob_dir(state_dir, dir, sizeof(dir)));
	d = opendir(dir);
	ENSURE(d, blob_errno("cannot open", dir));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, BLOB_TMP, strlen(BLOB_TMP)) != 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
		else
			log_warn("cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
	}
	ret = C2S_OK;
out:
	if (d)
		closedir(d);
	if (removed)
		*removed = n;
	return ret;
}
