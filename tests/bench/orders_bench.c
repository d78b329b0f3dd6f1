/* Orders created per second with 1 MB of documents each: the blob write (temp file, fsync,
 * rename, fsync of the directory) and the order transaction (one commit, synchronous=FULL).
 * `build/tests/bench/orders_bench DIR [ORDERS] [DOC_BYTES]`; DIR must not exist yet (it is
 * created and left for inspection). Two documents of DOC_BYTES/2 (default 1 MB in all), distinct
 * per order, and two attachments shared by every order (written once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "firmware/orders/blob.h"
#include "firmware/orders/orders.h"
#include "firmware/store/store.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct store *s = NULL;
	int orders = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 200;
	size_t bytes = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 1 << 20;
	size_t half = bytes / 2;
	uint8_t *doc = malloc(half ? half : 1);
	struct order_file_new docs[2], atts[2];
	struct order_new n;
	struct order_info *info = calloc(1, sizeof(*info));
	char token[ORDER_LINK_TOKEN_LEN + 1], ref[64], why[300];
	uint8_t lsha[32];
	double t_blob = 0, t_tx = 0, t0, t1, t2;
	int existed;
	if (argc < 2 || orders < 1 || !doc || !info || mkdir(argv[1], 0700) != 0) {
		fprintf(stderr, "usage: %s NEW_DIR [ORDERS] [DOC_BYTES]\n", argv[0]);
		return 2;
	}
	if (store_open(argv[1], &s) != C2S_OK)
		return 1;
	memset(&n, 0, sizeof(n));
	for (int i = 0; i < 2; i++) {
		char a[64];
		int l = snprintf(a, sizeof(a), "%%PDF-1.7 shared attachment %d", i);
		atts[i].title = i ? "Splošni pogoji" : "Cenik";
		atts[i].filename = i ? "pogoji.pdf" : "cenik.pdf";
		atts[i].size = (uint64_t)l;
		if (blob_put(argv[1], a, (size_t)l, atts[i].sha256) != C2S_OK)
			return 1;
		docs[i].title = "Pogodba";
		docs[i].filename = "pogodba.pdf";
		docs[i].size = half;
	}
	n.client = "bench";
	n.locale = "sl";
	snprintf(n.subscriber.given_name, ORDER_NAME_MAX, "Janez");
	snprintf(n.subscriber.family_name, ORDER_NAME_MAX, "Novak");
	snprintf(n.subscriber.email, ORDER_EMAIL_MAX, "janez@example.si");
	snprintf(n.subscriber.phone, ORDER_PHONE_MAX, "+38641123456");
	n.documents = docs;
	n.n_documents = 2;
	n.attachments = atts;
	n.n_attachments = 2;
	n.link_token = token;
	n.public_url = "https://podpis.example.si";
	n.reference = ref;
	t0 = now_s();
	for (int i = 0; i < orders; i++) {
		snprintf(ref, sizeof(ref), "bench-%d", i);
		t1 = now_s();
		for (int d = 0; d < 2; d++) {
			if (getrandom(doc, half < 4096 ? half : 4096, 0) < 0) /* distinct bytes */
				return 1;
			if (blob_put(argv[1], doc, half, docs[d].sha256) != C2S_OK)
				return 1;
		}
		t2 = now_s();
		memcpy(n.body_sha256, docs[0].sha256, 32);
		if (order_link_new(token, sizeof(token), lsha) != C2S_OK ||
		    order_create(s, &n, 1700000000 + i, info, &existed, why, sizeof(why)) !=
		        C2S_OK) {
			fprintf(stderr, "order %d: %s\n", i, why);
			return 1;
		}
		t_blob += t2 - t1;
		t_tx += now_s() - t2;
	}
	double total = now_s() - t0;
	printf("orders=%d doc_bytes=%zu total_s=%.3f orders_per_s=%.1f blob_ms=%.2f tx_ms=%.2f\n",
	       orders, 2 * half, total, orders / total, 1000 * t_blob / orders,
	       1000 * t_tx / orders);
	store_close(s);
	free(doc);
	free(info);
	return 0;
}
