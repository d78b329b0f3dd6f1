/* click2sign-admin token init|status|pin-change */
#include "admin.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drivers/pcsc.h"

#define TOKEN_PCSC_WAIT_MS 2000 /* how long token status waits for pcscd's first answer */

/* Whether the token [token] uri selects is already initialised (token init would erase it). */
static int token_exists(struct admin *a)
{
	struct hsm_config hc;
	struct hsm *h = NULL;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	admin_hsm_config(a, &hc);
	int exists = hsm_open(&hc, &h, why, sizeof(why)) == C2S_OK &&
	             hsm_token_info(h, &ti) == C2S_OK && ti.present;
	if (h)
		hsm_close(h);
	return exists;
}

static int token_init(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "label", .has_arg = 1, .required = 1},
	    {.name = "so-pin-file", .has_arg = 1, .required = 1},
	    {.name = "pin-file", .has_arg = 1},
	    {.name = "yes"},
	};
	const char *pos[1];
	size_t n_pos;
	char *so = NULL, *user = NULL;
	size_t so_len, user_len;
	char why[HSM_WHY] = "";
	struct hsm_config hc;
	struct hsm_uri u;
	int rc = admin_opts_parse(a, "token init", argc, argv, opts, 4, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	const char *label = opts[0].val;
	if (strlen(label) > 32)
		return admin_usage_fail("token init", "--label is longer than 32 bytes");
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK)
		goto out;
	if (!opts[3].val && token_exists(a)) {
		rc = admin_usage_fail("token init",
		                      "the token %s is already initialised and `token init` erases "
		                      "every key and certificate on it; add --yes to confirm",
		                      a->cfg.token_uri);
		goto out;
	}
	const char *pin_file = opts[2].val ? opts[2].val : a->cfg.pin_file;
	if (admin_secret_read(opts[1].val, "--so-pin-file", &so, &so_len) != C2S_OK ||
	    admin_secret_read(pin_file, opts[2].val ? "--pin-file" : "[token] pin_file", &user,
	                      &user_len) != C2S_OK)
		goto out;
	admin_hsm_config(a, &hc);
	c2s_err ret = hsm_token_init(&hc, so, label, user, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("token init failed: %s", why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	printf("token '%s' initialised and user PIN set (from %s)\n", label, pin_file);
	why[0] = 0;
	if (hsm_uri_parse(a->cfg.token_uri, &u, why, sizeof(why)) == C2S_OK && u.has_token &&
	    strcmp(u.token, label) != 0)
		printf("note: [token] uri %s does not select this token; set uri = "
		       "pkcs11:token=%s\n",
		       a->cfg.token_uri, label);
	if (opts[2].val && strcmp(opts[2].val, a->cfg.pin_file) != 0)
		printf("note: the daemon reads the PIN from [token] pin_file %s\n",
		       a->cfg.pin_file);
	printf("next: click2sign-admin --config %s key generate --label %s --type rsa:3072\n",
	       a->config_path, a->cfg.seal_key);
	rc = ADMIN_EXIT_OK;
out:
	admin_secret_free(so);
	admin_secret_free(user);
	return rc;
}

static const char *token_pin_state(int st)
{
	if (st == C2S_OK)
		return "ok";
	if (st == C2S_ERR_HSM_PIN_INCORRECT)
		return "INCORRECT (login stopped; fix [token] pin_file)";
	if (st == C2S_ERR_HSM_PIN_LOCKED)
		return "LOCKED (unlock it with the SO PIN)";
	return "unknown";
}

static void token_print_info(const struct hsm_token_info *ti)
{
	printf("token:         %s\n", ti->present ? "present" : "NOT PRESENT");
	printf("label:         %s\n", ti->label);
	printf("manufacturer:  %s\n", ti->manufacturer);
	printf("model:         %s\n", ti->model);
	printf("serial:        %s\n", ti->serial);
	printf("slot:          %lu (%s)\n", ti->slot_id, ti->slot_description);
	printf("removable:     %s\n", ti->removable ? "yes" : "no");
	printf("logged in:     %s\n", ti->logged_in ? "yes" : "no");
	printf("PIN:           %s\n", token_pin_state(ti->pin_state));
}

static void token_print_key(struct hsm *h, const char *role, const char *name)
{
	struct hsm_key *k = NULL;
	struct hsm_key_info ki;
	char why[HSM_WHY] = "", type[32];
	if (!name[0])
		return;
	c2s_err ret = hsm_key_find(h, name, &k, why, sizeof(why));
	if (ret != C2S_OK) {
		printf("%-14s %s: NOT FOUND (%s)\n", role, name,
		       why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	if (hsm_key_get_info(h, k, &ki) != C2S_OK) {
		printf("%-14s %s: found\n", role, name);
		goto out;
	}
	admin_key_type_str(&ki, type, sizeof(type));
	printf("%-14s %s: found (%s, certificate: %s)\n", role, name, type,
	       ki.has_certificate ? "yes" : "NO");
out:
	if (k)
		hsm_key_free(k);
}

/* Whether the monitor has a complete first picture: pcscd answered and the selected
 * reader (if any) has its card state. */
static int token_pcsc_settled(const struct pcsc_state *ps)
{
	return ps->reachable && ps->changes > 0 && (!ps->card_present || ps->atr_hex[0]);
}

/* The card reader as pcscd sees it ([token] card = yes, or auto with OpenSC): a short run
 * of the PC/SC monitor, the same view the daemon's /v1/health reports. */
static void token_print_card(struct admin *a)
{
	struct pcsc_state ps;
	memset(&ps, 0, sizeof(ps));
	if (pcsc_start(a->cfg.card_reader[0] ? a->cfg.card_reader : NULL, NULL, NULL) != C2S_OK) {
		printf("card reader:   cannot start the PC/SC monitor\n");
		return;
	}
	for (int i = 0; i < TOKEN_PCSC_WAIT_MS / 20; i++) {
		if (pcsc_snapshot(&ps) == C2S_OK && token_pcsc_settled(&ps))
			break;
		usleep(20000);
	}
	if (ps.reachable && ps.reader[0])
		usleep(100000); /* a late reader or card event still in flight */
	if (pcsc_snapshot(&ps) != C2S_OK)
		memset(&ps, 0, sizeof(ps));
	pcsc_stop();
	if (!ps.reachable) {
		printf("pcscd:         NOT REACHABLE%s%s (is pcscd running?)\n",
		       ps.error[0] ? ": " : "", ps.error);
		return;
	}
	printf("pcscd:         reachable, %zu reader(s)\n", ps.n_readers);
	if (!ps.reader[0]) {
		printf("reader:        NONE%s%s\n", a->cfg.card_reader[0] ? " matching " : "",
		       a->cfg.card_reader);
		return;
	}
	printf("reader:        %s\n", ps.reader);
	printf("card:          %s\n", ps.card_present ? "present" : "NOT PRESENT (insert it)");
	if (ps.card_present)
		printf("ATR:           %s\n", ps.atr_hex);
}

/* The card's name as OpenSC reports it (manufacturer, model). */
static void token_print_card_name(const struct hsm_token_info *ti)
{
	if (!ti->present)
		return;
	printf("card name:     %s%s%s%s\n", ti->manufacturer, ti->model[0] ? " (" : "", ti->model,
	       ti->model[0] ? ")" : "");
}

static int token_status(struct admin *a, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct hsm *h = NULL;
	struct hsm_token_info ti;
	struct hsm_config hc;
	char why[HSM_WHY] = "";
	char *pin = NULL;
	size_t pin_len = 0;
	int rc = admin_opts_parse(a, "token status", argc, argv, NULL, 0, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK ||
	    admin_secret_read(a->cfg.pin_file, "[token] pin_file", &pin, &pin_len) != C2S_OK)
		goto out;
	admin_hsm_config(a, &hc);
	hc.pin = pin;
	hc.pin_len = pin_len;
	hc.allow_absent = 1; /* report an absent token instead of failing to open */
	c2s_err ret = hsm_open(&hc, &h, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("cannot open token %s: %s", a->cfg.token_uri,
		           why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	if ((ret = hsm_token_info(h, &ti)) != C2S_OK) {
		admin_fail("cannot read the token state: %s", c2s_err_message(ret));
		goto out;
	}
	printf("module:        %s\n", a->cfg.module);
	printf("uri:           %s\n", a->cfg.token_uri);
	int card = config_card_monitored(&a->cfg);
	if (card)
		token_print_card(a);
	token_print_info(&ti);
	if (card)
		token_print_card_name(&ti);
	if (ti.present && ti.logged_in)
		token_print_key(h, "[seal] key:", a->cfg.seal_key);
	fflush(stdout);
	if (admin_hsm_login_check(h, "[token] pin_file") != C2S_OK)
		goto out;
	rc = ADMIN_EXIT_OK;
out:
	if (h)
		hsm_close(h);
	admin_secret_free(pin);
	return rc;
}

static int token_pin_change(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "new-pin-file", .has_arg = 1, .required = 1},
	    {.name = "old-pin-file", .has_arg = 1},
	};
	const char *pos[1];
	size_t n_pos, old_len, new_len;
	char *old_pin = NULL, *new_pin = NULL;
	char why[HSM_WHY] = "";
	struct hsm *h = NULL;
	struct hsm_config hc;
	int rc = admin_opts_parse(a, "token pin-change", argc, argv, opts, 2, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK)
		goto out;
	const char *old_file = opts[1].val ? opts[1].val : a->cfg.pin_file;
	if (admin_secret_read(old_file, opts[1].val ? "--old-pin-file" : "[token] pin_file",
	                      &old_pin, &old_len) != C2S_OK ||
	    admin_secret_read(opts[0].val, "--new-pin-file", &new_pin, &new_len) != C2S_OK)
		goto out;
	admin_hsm_config(a, &hc);
	hc.pin = old_pin;
	hc.pin_len = old_len;
	c2s_err ret = hsm_open(&hc, &h, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("cannot open token %s: %s", a->cfg.token_uri,
		           why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	if (admin_hsm_login_check(h, opts[1].val ? "--old-pin-file (the old PIN)"
	                                         : "[token] pin_file (the old PIN)") != C2S_OK)
		goto out;
	if ((ret = hsm_pin_change(h, old_pin, new_pin)) != C2S_OK) {
		admin_fail("the token refused the PIN change: %s; check the new PIN's length",
		           c2s_err_message(ret));
		goto out;
	}
	printf("user PIN changed\n");
	if (strcmp(opts[0].val, a->cfg.pin_file) != 0)
		printf("next: put the new PIN into [token] pin_file %s (mode 0600) before the "
		       "daemon restarts\n",
		       a->cfg.pin_file);
	rc = ADMIN_EXIT_OK;
out:
	if (h)
		hsm_close(h);
	admin_secret_free(old_pin);
	admin_secret_free(new_pin);
	return rc;
}

int admin_cmd_token(struct admin *a, int argc, char **argv)
{
	if (argc < 1)
		return admin_usage_fail("token", "expected init, status or pin-change");
	if (strcmp(argv[0], "init") == 0)
		return token_init(a, argc - 1, argv + 1);
	if (strcmp(argv[0], "status") == 0)
		return token_status(a, argc - 1, argv + 1);
	if (strcmp(argv[0], "pin-change") == 0)
		return token_pin_change(a, argc - 1, argv + 1);
	return admin_usage_fail("token",
	                        "unknown subcommand '%s' (expected init, status or "
	                        "pin-change)",
	                        argv[0]);
}
