/* cardbridge: a test-only "smartcard" for pcscd.
 *
 * libcacard emulates a US DoD CAC card whose keys and certificates live in an NSS
 * database (here: a SoftHSM2 token registered in that database). This program connects to
 * vsmartcard's vpcd reader driver inside pcscd (TCP, 127.0.0.1:PORT) and relays what vpcd
 * sends to the emulated card:
 *   frame   = 2-byte big-endian length, then that many bytes
 *   len 1   = control: 0 power off, 1 power on, 2 reset, 4 "send the ATR" (we answer)
 *   len > 1 = a command APDU (we answer with the response APDU)
 * Closing the TCP connection is how vpcd learns that the card was removed, so:
 *   SIGUSR1 = "remove the card": close the connection and stay disconnected
 *   SIGUSR2 = "insert the card": connect again
 *   SIGTERM / SIGINT = exit
 *
 * Usage: cardbridge --port N --db DIR [--token NAME --cert NICK [--cert NICK...]]
 *                   [--pidfile FILE] [--removed] [--verbose]
 * With --token, libcacard's "soft" mode builds the card from the named certificates (NSS
 * nicknames "token:label", card order = option order) and the keys next to them in that
 * token. Without it, "use_hw=removable" mirrors every removable token of the db; that mode
 * starts libcacard's NSS token-event thread, which polls SoftHSM and was seen to deadlock
 * against a concurrent VERIFY (PIN) inside NSS: use --token.
 * The NSS database needs SOFTHSM2_CONF in the environment when SoftHSM backs it. */
#include <libcacard.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BRIDGE_MAX_FRAME 65538 /* extended APDU + SW */
#define BRIDGE_WAIT_MS   15000 /* how long to wait for the token to show up in libcacard */
#define BRIDGE_MAX_CERTS 8

struct bridge {
	unsigned port;
	const char *db;
	const char *pidfile;
	const char *token;
	const char *certs[BRIDGE_MAX_CERTS];
	int n_certs;
	int verbose;
	int sock;          /* -1 while the card is "removed" or not yet connected */
	int want_inserted; /* what the last signal asked for */
	VReader *reader;   /* the libcacard reader that holds our card */
	unsigned char rx[BRIDGE_MAX_FRAME];
	unsigned char tx[BRIDGE_MAX_FRAME + 2];
	unsigned char resp[BRIDGE_MAX_FRAME];
	unsigned char atr[64]; /* from the last power on */
	size_t atr_len;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	/* one write per line; nothing to do if stderr is gone */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

static int parse_port(const char *s, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(struct bridge *b, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},    {"db", required_argument, NULL, 'd'},
	    {"pidfile", required_argument, NULL, 'P'}, {"removed", no_argument, NULL, 'r'},
	    {"verbose", no_argument, NULL, 'v'},       {"token", required_argument, NULL, 't'},
	    {"cert", required_argument, NULL, 'c'},    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "p:d:P:rvt:c:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			b->token = optarg;
			break;
		case 'c':
			if (b->n_certs >= BRIDGE_MAX_CERTS)
				return -1;
			b->certs[b->n_certs++] = optarg;
			break;
		case 'p':
			if (parse_port(optarg, &b->port) != 0)
				return -1;
			break;
		case 'd':
			b->db = optarg;
			break;
		case 'P':
			b->pidfile = optarg;
			break;
		case 'r':
			b->want_inserted = 0;
			break;
		case 'v':
			b->verbose = 1;
			break;
		default:
			return -1;
		}
	}
	if ((b->token == NULL) != (b->n_certs == 0))
		return -1;
	return (b->port == 0 || b->db == NULL || optind != argc) ? -1 : 0;
}

static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	char line[32];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int m = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp) || m < 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int ok = write(fd, line, (size_t)m) == m;
	ok = (close(fd) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Is `s` safe inside libcacard's option string (no quotes, separators or blanks)? */
static int plain(const char *s)
{
	return *s != '\0' && strpbrk(s, "\",() \t\n") == NULL;
}

static int build_options(const struct bridge *b, char *out, size_t cap)
{
	size_t used = 0;
	int n;
	if (!plain(b->db))
		return -1;
	if (b->token == NULL)
		n = snprintf(out, cap, "db=\"sql:%s\" use_hw=removable", b->db);
	else if (!plain(b->token))
		return -1;
	else
		n = snprintf(out, cap, "db=\"sql:%s\" use_hw=no soft=(%s,Click2Sign,CAC,", b->db,
		             b->token);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	used = (size_t)n;
	for (int i = 0; i < b->n_certs; i++) {
		if (!plain(b->certs[i]))
			return -1;
		n = snprintf(out + used, cap - used, ",%s%s", b->certs[i],
		             i + 1 == b->n_certs ? ")" : "");
		if (n < 0 || (size_t)n >= cap - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* libcacard: open the NSS db, then wait until one of its readers holds a card. */
static int card_init(struct bridge *b)
{
	char args[PATH_MAX + 1024];
	if (build_options(b, args, sizeof(args)) != 0) {
		say("cardbridge: db path, token or certificate name not usable in libcacard "
		    "options");
		return -1;
	}
	if (b->verbose)
		say("cardbridge: libcacard options: %s", args);
	VCardEmulOptions *opts = vcard_emul_options(args);
	if (opts == NULL || vcard_emul_init(opts) != VCARD_EMUL_OK) {
		say("cardbridge: libcacard could not open sql:%s", b->db);
		return -1;
	}
	for (int waited = 0; waited < BRIDGE_WAIT_MS; waited += 50) {
		VReaderList *list = vreader_get_reader_list();
		for (VReaderListEntry *e = vreader_list_get_first(list); e != NULL;
		     e = vreader_list_get_next(e)) {
			VReader *r = vreader_list_get_reader(e);
			if (b->reader == NULL && vreader_card_is_present(r) == VREADER_OK)
				b->reader = r;
			else
				vreader_free(r);
		}
		vreader_list_delete(list);
		if (b->reader != NULL) {
			say("cardbridge: card in NSS slot \"%s\"", vreader_get_name(b->reader));
			return 0;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	say("cardbridge: no token with a card in sql:%s (is SOFTHSM2_CONF set?)", b->db);
	return -1;
}

static int vpcd_connect(struct bridge *b)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	/* Without these every APDU waits ~40-200 ms for a delayed ACK (Nagle). */
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)) != 0) {
		close(fd);
		return -1;
	}
	b->sock = fd;
	b->atr_len = 0; /* a new "insertion" powers the card on again */
	say("cardbridge: card inserted (connected to vpcd on port %u)", b->port);
	return 0;
}

static void vpcd_close(struct bridge *b, const char *why)
{
	if (b->sock < 0)
		return;
	close(b->sock);
	b->sock = -1;
	say("cardbridge: card removed (%s)", why);
}

static int read_full(int fd, unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send one frame with a single write so it leaves in one segment. */
static int send_frame(struct bridge *b, const unsigned char *data, size_t len)
{
	if (len > BRIDGE_MAX_FRAME)
		return -1;
	b->tx[0] = (unsigned char)(len >> 8);
	b->tx[1] = (unsigned char)len;
	memcpy(b->tx + 2, data, len);
	size_t total = len + 2, off = 0;
	while (off < total) {
		ssize_t n = write(b->sock, b->tx + off, total - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	int one = 1;
	(void)setsockopt(b->sock, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	return 0;
}

/* Power the card on (a reset: logs out, drops pending responses) and remember its ATR. */
static int power_on(struct bridge *b)
{
	int len = (int)sizeof(b->atr);
	if (vreader_power_on(b->reader, b->atr, &len) != VREADER_OK || len <= 0) {
		b->atr_len = 0;
		return -1;
	}
	b->atr_len = (size_t)len;
	return 0;
}

static int handle_control(struct bridge *b, unsigned char code)
{
	switch (code) {
	case 0: /* power off */
		(void)vreader_power_off(b->reader);
		return 0;
	case 1: /* power on */
	case 2: /* reset */
		if (power_on(b) != 0)
			say("cardbridge: power on failed");
		return 0;
	case 4: /* ATR request: vpcd asks on every presence poll (~400 ms), so answer from the
	         * cache; resetting here would drop a response waiting for GET RESPONSE. */
		if (b->atr_len == 0 && power_on(b) != 0)
			return -1; /* an empty ATR hangs pcscd's reader: drop instead */
		return send_frame(b, b->atr, b->atr_len);
	default:
		say("cardbridge: unknown vpcd control byte %u", code);
		return 0;
	}
}

static int handle_frame(struct bridge *b)
{
	unsigned char hdr[2];
	if (read_full(b->sock, hdr, sizeof(hdr)) != 0)
		return -1;
	size_t len = ((size_t)hdr[0] << 8) | hdr[1];
	if (len == 0 || read_full(b->sock, b->rx, len) != 0)
		return -1;
	if (len == 1)
		return handle_control(b, b->rx[0]);
	unsigned char *resp = b->resp;
	int resp_len = (int)sizeof(b->resp);
	if (vreader_xfr_bytes(b->reader, b->rx, (int)len, resp, &resp_len) != VREADER_OK ||
	    resp_len < 2) {
		/* answer "no precise diagnosis" rather than leave pcscd waiting */
		resp[0] = 0x6f;
		resp[1] = 0x00;
		resp_len = 2;
	}
	if (b->verbose)
		say("cardbridge: APDU %02x %02x -> SW %02x%02x", b->rx[0], b->rx[1],
		    resp[resp_len - 2], resp[resp_len - 1]);
	return send_frame(b, resp, (size_t)resp_len);
}

/* Returns 1 to keep running, 0 to exit. */
static int handle_signal(struct bridge *b, int sfd)
{
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 1;
	switch (si.ssi_signo) {
	case SIGUSR1:
		b->want_inserted = 0;
		vpcd_close(b, "SIGUSR1");
		return 1;
	case SIGUSR2:
		b->want_inserted = 1;
		return 1;
	default:
		say("cardbridge: exiting on signal %u", si.ssi_signo);
		return 0;
	}
}

static int run(struct bridge *b, int sfd)
{
	for (;;) {
		if (b->want_inserted && b->sock < 0 && vpcd_connect(b) != 0 && b->verbose)
			say("cardbridge: vpcd on port %u not reachable yet", b->port);
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN},
		                       {.fd = b->sock, .events = POLLIN}};
		/* retry the connection every 100 ms while vpcd is not listening yet */
		int timeout = (b->want_inserted && b->sock < 0) ? 100 : -1;
		int n = poll(pf, b->sock >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		if ((pf[0].revents & POLLIN) && !handle_signal(b, sfd))
			return 0;
		if (b->sock >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    handle_frame(b) != 0)
			vpcd_close(b, "vpcd closed the connection");
	}
}

int main(int argc, char **argv)
{
	static struct bridge b = {.sock = -1, .want_inserted = 1};
	int rc = 1, sfd = -1;
	if (parse_args(&b, argc, argv) != 0) {
		say("usage: cardbridge --port N --db NSSDIR [--token NAME --cert NICK...] "
		    "[--pidfile FILE] [--removed] [--verbose]");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* block before libcacard starts its threads so they inherit the mask */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0 || card_init(&b) != 0)
		goto out;
	if (b.pidfile != NULL && write_pidfile(b.pidfile) != 0) {
		say("cardbridge: cannot write %s", b.pidfile);
		goto out;
	}
	rc = run(&b, sfd) == 0 ? 0 : 1;
out:
	vpcd_close(&b, "exit");
	if (b.pidfile != NULL)
		unlink(b.pidfile);
	if (sfd >= 0)
		close(sfd);
	/* no vcard_emul_finalize(): the process exits, and NSS shutdown could race libcacard
	 * threads */
	return rc;
}
