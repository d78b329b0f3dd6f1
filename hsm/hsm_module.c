/* Loading PKCS#11 modules from the allow-list, once per process, and finding tokens. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

static pthread_mutex_t mod_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_module *mod_list;

void hsm_pad_to_str(const unsigned char *p, size_t n, char *out, size_t cap)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

void hsm_str_to_pad(const char *s, unsigned char *p, size_t n)
{
	size_t l = strnlen(s, n);
	memset(p, ' ', n);
	memcpy(p, s, l);
}

/* realpath() of the module compared with realpath() of every allow-list entry. */
static c2s_err module_allowed(const struct hsm_config *cfg, char *real, char *why, size_t why_cap)
{
	char allowed[1024] = "", entry[PATH_MAX];
	size_t o = 0;
	if (!cfg->module_path || !realpath(cfg->module_path, real)) {
		snprintf(why, why_cap, "PKCS#11 module %s: %s",
		         cfg->module_path ? cfg->module_path : "(none)",
		         cfg->module_path ? strerror(errno) : "not configured");
		return C2S_ERR_HSM_MODULE;
	}
	for (size_t i = 0; i < cfg->n_allow; i++) {
		if (cfg->allow[i] && realpath(cfg->allow[i], entry) && strcmp(entry, real) == 0)
			return C2S_OK;
		int w = snprintf(allowed + o, sizeof(allowed) - o, "%s%s", i ? ", " : "",
		                 cfg->allow[i] ? cfg->allow[i] : "(null)");
		if (w > 0 && (size_t)w < sizeof(allowed) - o)
			o += (size_t)w;
	}
	snprintf(why, why_cap, "PKCS#11 module %s (%s) is not on the allow-list [%s]",
	         cfg->module_path, real, allowed);
	return C2S_ERR_MODULE_NOT_ALLOWED;
}

static c2s_err module_open(struct hsm_module *m, char *why, size_t why_cap)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS args;
	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (!m->dl) {
		snprintf(why, why_cap, "cannot load PKCS#11 module %s: %s", m->path, dlerror());
		return C2S_ERR_HSM_MODULE;
	}
	*(void **)&gfl = dlsym(m->dl, "C_GetFunctionList");
	if (!gfl || gfl(&m->f) != CKR_OK || !m->f) {
		snprintf(why, why_cap, "%s has no usable C_GetFunctionList", m->path);
		return C2S_ERR_HSM_MODULE;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	CK_RV rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		HSM_LOG_RV("C_Initialize", rv);
		snprintf(why, why_cap, "C_Initialize of %s failed: %s", m->path, hsm_ckr_name(rv));
		return C2S_ERR_HSM_MODULE;
	}
	return C2S_OK;
}

c2s_err hsm_module_get(const struct hsm_config *cfg, struct hsm_module **out, char *why,
                       size_t why_cap)
{
	c2s_err ret = C2S_ERR_HSM_MODULE;
	char real[PATH_MAX];
	struct hsm_module *m = NULL;
	*out = NULL;
	GUARD(module_allowed(cfg, real, why, why_cap));
	pthread_mutex_lock(&mod_mu);
	for (m = mod_list; m; m = m->next)
		if (strcmp(m->path, real) == 0)
			break;
	if (m) {
		m->refs++;
		ret = C2S_OK;
	} else if ((m = calloc(1, sizeof(*m))) == NULL) {
		ret = C2S_ERR_NOMEM;
	} else {
		snprintf(m->path, sizeof(m->path), "%s", real);
		ret = module_open(m, why, why_cap);
		if (ret == C2S_OK) {
			m->refs = 1;
			m->next = mod_list;
			mod_list = m;
		} else {
			if (m->dl)
				dlclose(m->dl);
			free(m);
			m = NULL;
		}
	}
	pthread_mutex_unlock(&mod_mu);
	if (ret == C2S_OK)
		*out = m;
out:
	return ret;
}

void hsm_module_put(struct hsm_module *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&mod_mu);
	if (--m->refs == 0) {
		struct hsm_module **pp = &mod_list;
		while (*pp && *pp != m)
			pp = &(*pp)->next;
		if (*pp)
			*pp = m->next;
		CK_RV rv = m->f->C_Finalize(NULL);
		if (rv != CKR_OK)
			HSM_LOG_RV("C_Finalize", rv);
		dlclose(m->dl);
		free(m);
	}
	pthread_mutex_unlock(&mod_mu);
}

static int token_matches(const struct hsm_uri *u, const CK_TOKEN_INFO *ti)
{
	char s[33];
	hsm_pad_to_str(ti->label, sizeof(ti->label), s, sizeof(s));
	if (u->has_token && strcmp(s, u->token) != 0)
		return 0;
	hsm_pad_to_str(ti->manufacturerID, sizeof(ti->manufacturerID), s, sizeof(s));
	if (u->has_manufacturer && strcmp(s, u->manufacturer) != 0)
		return 0;
	hsm_pad_to_str(ti->serialNumber, sizeof(ti->serialNumber), s, sizeof(s));
	if (u->has_serial && strcmp(s, u->serial) != 0)
		return 0;
	hsm_pad_to_str(ti->model, sizeof(ti->model), s, sizeof(s));
	if (u->has_model && strcmp(s, u->model) != 0)
		return 0;
	return 1;
}

c2s_err hsm_slot_find(CK_FUNCTION_LIST_PTR f, const struct hsm_uri *u, CK_SLOT_ID *slot,
                      CK_TOKEN_INFO *ti, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_HSM_NO_TOKEN;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, hits = 0;
	CK_TOKEN_INFO t;
	char seen[160] = "";
	size_t seen_len = 0;
	CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		HSM_LOG_RV("C_GetSlotList", rv);
		snprintf(why, why_cap, "listing slots failed (%s)", c2s_err_name(hsm_rv_err(rv)));
		ret = rv == CKR_BUFFER_TOO_SMALL ? C2S_ERR_HSM : hsm_rv_err(rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		rv = f->C_GetTokenInfo(slots[i], &t);
		if (rv != CKR_OK) {
			log_debug("C_GetTokenInfo(slot %lu): %s", slots[i], hsm_ckr_name(rv));
			continue;
		}
		if (t.flags & CKF_TOKEN_INITIALIZED) { /* for the reason, when none matches */
			char lab[33], ser[17];
			hsm_pad_to_str(t.label, sizeof(t.label), lab, sizeof(lab));
			hsm_pad_to_str(t.serialNumber, sizeof(t.serialNumber), ser, sizeof(ser));
			int w = snprintf(seen + seen_len, sizeof(seen) - seen_len,
			                 "%s\"%s\" (serial %s)", seen_len ? ", " : "", lab, ser);
			if (w > 0 && (size_t)w < sizeof(seen) - seen_len)
				seen_len += (size_t)w;
		}
		if (!(t.flags & CKF_TOKEN_INITIALIZED) || !token_matches(u, &t))
			continue;
		if (hits++ == 0) {
			*slot = slots[i];
			*ti = t;
		}
	}
	if (hits == 0) {
		snprintf(
		    why, why_cap,
		    "no initialised token matches token=\"%s\" serial=\"%s\"; tokens seen: %s "
		    "(labels compare exactly, case included; for SoftHSM2 check SOFTHSM2_CONF)",
		    u->token, u->serial, seen_len ? seen : "none");
		goto out;
	}
	if (hits > 1) {
		snprintf(why, why_cap, "%lu tokens match; add token= or serial= to the token URI",
		         (unsigned long)hits);
		ret = C2S_ERR_HSM_AMBIGUOUS;
		goto out;
	}
	ret = C2S_OK;
out:
	return ret;
}
