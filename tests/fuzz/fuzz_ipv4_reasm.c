/*
 * fuzz_ipv4_reasm.c - IPv4 reassembly (stack/ipv4_frag.c) on its own:
 * fragments of a few datagrams (a small key space, so they meet), with
 * offsets, lengths, MF, IPv4 options and payload the input picks, the
 * clock moving so datagrams time out, and now and then a table too full
 * to start another.
 *
 * Oracle: a fragment's payload byte is normally a function of its key and
 * offset, as fragments of one real datagram are; a datagram whose every
 * fragment was like that must come out whole with exactly those bytes,
 * under the offset-0 fragment's header with MF and offset cleared, a
 * total length that matches and a valid checksum. Fragments with other
 * bytes (the input may ask for them) taint their key for the rest of the
 * run. Every return code must be one ipv4_frag.h lists, with *out set
 * only on 1, and each call's counters must move as the header says. No
 * buffer may be left after ipv4_reasm_fini.
 */
#include <errno.h>

#include "../../stack/ipv4_frag.h"
#include "fuzz.h"

#define T0 (1000 * TEST_NS_PER_S)
#define MAX_OPS 512
#define NKEYS 8  /* source and id; with the protocol, 16 datagrams */
#define NSLOTS (2 * NKEYS)

static uint8_t pat(unsigned key, unsigned off)
{
	return (uint8_t)(key * 37 + off * 11 + (off >> 7));
}

static uint32_t key_src(unsigned key)
{
	return TEST_IP4(10, 0, 1, 1 + (key & 3));
}

static uint16_t key_id(unsigned key)
{
	return (uint16_t)(0x100 + (key >> 2));
}

static uint64_t counted(const struct ipv4_reasm_stats *s)
{
	return s->overlap + s->duplicate + s->too_big + s->too_many + s->bad_len +
	       s->no_buffer;
}

/* The output of a complete datagram, checked and freed. */
static void check_whole(struct test_pkt *p, unsigned slot, int tainted,
			const uint8_t *opts, unsigned opts_len, int have_opts)
{
	const uint8_t *ip = p->data + 14;
	unsigned ihl = (ip[0] & 0xfu) * 4u, tot = test_get16(ip + 2);

	FZ_CHECK(ihl >= 20 && 14u + tot == p->len && tot >= ihl, "reassembled lengths");
	FZ_CHECK(test_csum_sum(ip, ihl) == 0xffff, "reassembled header checksum");
	FZ_CHECK((test_get16(ip + 6) & 0x3fff) == 0, "MF or offset left set");
	FZ_CHECK(test_get32(ip + 12) == key_src(slot % NKEYS) &&
		 test_get16(ip + 4) == key_id(slot % NKEYS) && ip[9] == (slot < NKEYS ? 6 : 1),
		 "reassembled under another key");
	if (!tainted) {
		for (unsigned i = 0; i < tot - ihl; i++)
			FZ_CHECK(ip[ihl + i] == pat(slot, i), "reassembled payload differs");
		if (have_opts)
			FZ_CHECK(ihl == 20 + opts_len && !memcmp(ip + 20, opts, opts_len),
				 "options of the offset-0 fragment lost");
	}
	test_pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipv4_reasm r;
	struct test_port port;
	struct fz_in in = { data, size };
	uint64_t now = T0;
	unsigned tainted = 0;
	/* options each key's offset-0 fragment carried last (honest keys) */
	uint8_t kopts[NSLOTS][40];
	unsigned kopts_len[NSLOTS] = { 0 };
	int kopts_set[NSLOTS] = { 0 };

	test_port_init(&port, T0);
	ipv4_reasm_init(&r);
	for (int op = 0; op < MAX_OPS && fz_more(&in); op++) {
		uint8_t a = fz_u8(&in), b = fz_u8(&in);
		unsigned key = a % NKEYS, off8 = fz_u16(&in) & 0x1fff;
		unsigned len = (b & 0x80) ? fz_u16(&in) % 1600 : (b & 0x7fu) * 8u;
		unsigned olen = (a & 0x40) ? 4u * (fz_u8(&in) % 11) : 0;
		uint8_t opts[40];
		struct test_frame f;
		struct test_ipv4 ip = { .src = key_src(key), .dst = TEST_IP4(10, 0, 1, 100),
					.proto = (uint8_t)((a & 0x20) ? 1 : 6), .id = key_id(key),
					.opts = opts, .opts_len = (uint8_t)olen };
		struct ipv4_reasm_stats before = r.stats;
		struct wire_ipv4_view v;
		struct test_pkt *p;
		void *out = (void *)1;
		int rc;

		unsigned slot = key + ((a & 0x20) ? NKEYS : 0);

		if ((b & 0x7f) == 0x7f) { /* the clock moves, no fragment */
			now += fz_delay(&in);
			ipv4_reasm_expire(&r, test_port_ops(), &port, now);
			FZ_CHECK(ipv4_reasm_deadline(&r) > now, "an expired datagram kept");
			continue;
		}
		fz_bytes(&in, opts, olen);
		if (off8 * 8 + len > 0xffff)
			len = 0xffff - off8 * 8;
		if (14 + 20 + olen + len > TEST_PKT_ROOM)
			len = TEST_PKT_ROOM - 14 - 20 - olen;
		ip.frag = (uint16_t)(off8 | ((a & 0x80) ? 0 : 0x2000));
		test_frame_reset(&f);
		test_frame_eth(&f, (const uint8_t[6]){ 2, 0, 0, 0, 1, 100 },
			       (const uint8_t[6]){ 2, 0, 0, 0, 1, 1 }, 0x0800);
		test_frame_ipv4(&f, &ip, (uint16_t)len);
		{
			uint8_t *d = test_frame_bytes(&f, NULL, len);
			int honest = !(a & 0x10);

			for (unsigned i = 0; i < len; i++)
				d[i] = honest ? pat(slot, off8 * 8 + i) : (uint8_t)fz_u8(&in);
			if (!honest)
				tainted |= 1u << slot;
		}
		p = test_port_pkt_from(&port, &f);
		if (wire_ipv4_parse(p->data + 14, p->len - 14u, 0, &v) < 0) {
			test_pkt_free(p);
			continue;
		}
		port.fail_alloc = (b & 0x7f) == 0x7e;
		rc = ipv4_reasm_input(&r, test_port_ops(), &port, now, p, &v, &out);
		port.fail_alloc = false;
		FZ_CHECK((rc == 0 || rc == 1 || rc == -EEXIST || rc == -EBADMSG ||
					  rc == -EINVAL || rc == -EMSGSIZE || rc == -ENOSPC ||
					  rc == -ENOBUFS), "unlisted return code");
		FZ_CHECK((rc == 1) == (out != NULL), "*out set without completion");
		FZ_CHECK(rc >= 0 ? counted(&r.stats) == counted(&before) :
				   counted(&r.stats) == counted(&before) + 1,
			 "a drop counted other than once");
		FZ_CHECK(r.stats.completed == before.completed + (rc == 1), "completed count");
		if (rc >= 0 && off8 == 0) { /* its header is the datagram's */
			memcpy(kopts[slot], opts, olen);
			kopts_len[slot] = olen;
			kopts_set[slot] = 1;
		}
		if (rc == 1) {
			check_whole(out, slot, tainted >> slot & 1, kopts[slot],
				    kopts_len[slot], kopts_set[slot]);
			kopts_set[slot] = 0;
		}
	}
	ipv4_reasm_fini(&r, test_port_ops(), &port);
	test_port_fini(&port);
	FZ_CHECK(port.live == 0, "packet buffers leaked");
	return 0;
}
