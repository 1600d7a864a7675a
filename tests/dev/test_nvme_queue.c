/*
 * test_nvme_queue.c - the queue pair of dev/nvme_queue.c against an
 * in-memory NVMe controller written here: it fetches SQEs up to the tail
 * doorbell, walks their PRPs (bus address = virtual address in this
 * test), moves bytes to and from a byte array "medium", and posts CQEs
 * with the phase tag, as far as the CQ head doorbell leaves it room. It
 * runs when the queue's owner idles, so nothing happens before a
 * doorbell. Checked: PRP1/PRP2/list at page boundaries, phase tag over
 * many wraps, a full SQ, one doorbell per batch, requests split into
 * commands and their bytes, an error status as EIO, and a controller that
 * stops answering failing the I/O after the timeout.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../dev/nvme_queue.h"

#define PG NVQ_PAGE
#define MEDIUM (1u << 20)
#define LBA_SHIFT 9

/* ---- the controller -------------------------------------------------------- */

struct mcmd {
	uint8_t opc;
	uint64_t slba, prp1, prp2;
	uint32_t nlb;
};

static struct mctl {
	struct nvq_ring *r;           /* the queue it serves (its memory) */
	volatile uint32_t sq_db, cq_db;
	uint16_t head, cq_tail;
	uint8_t phase;
	int stopped;                  /* takes nothing (QEMU's "stop") */
	int fail_next;                /* the next n commands fail */
	uint16_t fail_status;         /* SC | SCT << 8 */
	unsigned cq_limit;            /* CQEs posted per run, 0 = all */
	uint8_t medium[MEDIUM];
	struct mcmd log[256];
	unsigned ncmds;
	uint64_t clock_ns;
	unsigned errors_seen;
} m;

static void ctl_reset(struct nvq_ring *r)
{
	memset(&m, 0, sizeof(m));
	m.r = r;
	m.phase = 1;
	for (unsigned i = 0; i < MEDIUM; i++)
		m.medium[i] = (uint8_t)(i * 7 + 3);
}

/* Bytes [addr, addr + n) of host memory to or from the medium. */
static void move(uint64_t addr, uint8_t *med, uint32_t n, int write)
{
	void *p = (void *)(uintptr_t)addr;

	if (write)
		memcpy(med, p, n);
	else
		memcpy(p, med, n);
}

/* The PRPs of a command walked as a controller does (§4.1.1). */
static void data(const struct nvq_sqe *e, int write)
{
	uint32_t len = (e->cdw12 + 1u) << LBA_SHIFT;
	uint64_t slba = (uint64_t)e->cdw11 << 32 | e->cdw10;
	uint8_t *med = m.medium + (slba << LBA_SHIFT);
	uint32_t first = PG - (uint32_t)(e->prp1 % PG);

	assert_true((slba << LBA_SHIFT) + len <= MEDIUM);
	if (first > len)
		first = len;
	move(e->prp1, med, first, write);
	med += first;
	len -= first;
	if (!len)
		return;
	if (len <= PG) {
		assert_int_equal(e->prp2 % PG, 0);
		move(e->prp2, med, len, write);
		return;
	}
	for (const uint64_t *list = (const uint64_t *)(uintptr_t)e->prp2; len; list++) {
		uint32_t n = len < PG ? len : PG;

		assert_int_equal(*list % PG, 0);
		move(*list, med, n, write);
		med += n;
		len -= n;
	}
}

static void ctl_run(void)
{
	unsigned posted = 0;

	if (m.stopped)
		return;
	while (m.head != m.sq_db && (m.cq_tail + 1u) % m.r->size != m.cq_db &&
	       (!m.cq_limit || posted < m.cq_limit)) {
		struct nvq_sqe e;
		struct nvq_cqe c = { 0 };
		uint16_t status = 0;

		memcpy(&e, (const void *)&m.r->sq[m.head], sizeof(e));
		m.head = (uint16_t)((m.head + 1u) % m.r->size);
		if (m.ncmds < 256)
			m.log[m.ncmds] = (struct mcmd){ e.opc, (uint64_t)e.cdw11 << 32 | e.cdw10,
							e.prp1, e.prp2, e.cdw12 + 1u };
		m.ncmds++;
		if (m.fail_next) {
			m.fail_next--;
			status = m.fail_status;
		} else if (e.opc == NVQ_OP_READ || e.opc == NVQ_OP_WRITE) {
			data(&e, e.opc == NVQ_OP_WRITE);
		}
		c.cid = e.cid;
		c.sqhd = m.head;
		c.status = (uint16_t)(status << 1 | m.phase);
		memcpy((void *)&m.r->cq[m.cq_tail], &c, sizeof(c));
		if (++m.cq_tail == m.r->size) {
			m.cq_tail = 0;
			m.phase ^= 1;
		}
		posted++;
	}
}

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return m.clock_ns;
}

static void fake_idle(void *arg, unsigned spins)
{
	(void)arg, (void)spins;
	m.clock_ns += 1000000; /* a millisecond a look */
	ctl_run();
}

static void fake_error(void *arg, uint16_t status, uint8_t opc)
{
	(void)arg, (void)opc;
	assert_int_equal(status, m.fail_status);
	m.errors_seen++;
}

/* ---- a queue pair on test memory --------------------------------------------- */

struct tq {
	struct nvq_qp q;
	void *sq, *cq;
	struct nvq_slot slot[8];
	uint64_t pages[8][64];
	void *mem;
};

static struct tq *tq_new(uint16_t size, uint16_t nslots, uint32_t slot_bytes, uint16_t nreqs)
{
	struct tq *t = calloc(1, sizeof(*t));
	size_t per = slot_bytes + PG;

	assert_non_null(t);
	assert_true(nslots <= 8 && slot_bytes / PG <= 64);
	t->sq = aligned_alloc(PG, PG * 16);
	t->cq = aligned_alloc(PG, PG * 4);
	t->mem = aligned_alloc(PG, per * nslots);
	nvq_ring_init(&t->q.r, t->sq, t->cq, size, &m.sq_db, &m.cq_db);
	ctl_reset(&t->q.r);
	for (unsigned i = 0; i < nslots; i++) {
		char *base = (char *)t->mem + per * i;

		t->slot[i].list = (uint64_t *)base;
		t->slot[i].list_iova = (uint64_t)(uintptr_t)base;
		t->slot[i].va = base + PG;
		for (unsigned p = 0; p < slot_bytes / PG; p++)
			t->pages[i][p] = (uint64_t)(uintptr_t)(base + PG + (size_t)p * PG);
		t->slot[i].page = t->pages[i];
	}
	t->q.slot = t->slot;
	t->q.nsid = 1;
	t->q.lba_shift = LBA_SHIFT;
	t->q.slot_bytes = slot_bytes;
	t->q.timeout_ns = 50000000; /* 50 ms */
	t->q.env = (struct nvq_env){ fake_now, fake_idle, fake_error, NULL };
	assert_int_equal(nvq_qp_init(&t->q, nslots, nreqs), 0);
	return t;
}

static void tq_free(struct tq *t)
{
	nvq_qp_fini(&t->q);
	free(t->sq);
	free(t->cq);
	free(t->mem);
	free(t);
}

/* ---- PRPs ------------------------------------------------------------------------ */

static void test_prp_boundaries(void **state)
{
	uint64_t page[600], list[NVQ_PRP_PER_LIST + 1], p1, p2;

	(void)state;
	for (unsigned i = 0; i < 600; i++)
		page[i] = 0x100000ull + i * 0x3000ull; /* not contiguous */
	/* within one page: PRP1 only */
	assert_int_equal(nvq_prp(page, 0, PG, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p1, page[0]);
	assert_int_equal(p2, 0);
	assert_int_equal(nvq_prp(page, 512, PG - 512, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p1, page[0] + 512);
	assert_int_equal(p2, 0);
	/* one byte over the page: PRP2 is the second page */
	assert_int_equal(nvq_prp(page, 512, PG - 511, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p2, page[1]);
	assert_int_equal(nvq_prp(page, 0, 2 * PG, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p2, page[1]);
	/* two pages from an offset touch three: a list of two */
	memset(list, 0, sizeof(list));
	assert_int_equal(nvq_prp(page, 512, 2 * PG, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p1, page[0] + 512);
	assert_int_equal(p2, 0xabc000);
	assert_int_equal(list[0], page[1]);
	assert_int_equal(list[1], page[2]);
	assert_int_equal(list[2], 0);
	/* three whole pages: a list of two */
	assert_int_equal(nvq_prp(page, 0, 3 * PG, list, 0xabc000, &p1, &p2), 0);
	assert_int_equal(p2, 0xabc000);
	assert_int_equal(list[1], page[2]);
	/* the most one list page holds: 1 + 512 pages */
	assert_int_equal(nvq_prp(page, 0, (1 + NVQ_PRP_PER_LIST) * PG, list, 0xabc000, &p1,
				 &p2), 0);
	assert_int_equal(list[NVQ_PRP_PER_LIST - 1], page[NVQ_PRP_PER_LIST]);
	assert_int_equal(nvq_prp(page, 0, (2 + NVQ_PRP_PER_LIST) * PG, list, 0xabc000, &p1,
				 &p2), -E2BIG);
	/* PRP1's offset must be dword aligned (§4.1.1) and inside the page */
	assert_int_equal(nvq_prp(page, 2, 512, list, 0xabc000, &p1, &p2), -EINVAL);
	assert_int_equal(nvq_prp(page, PG, 512, list, 0xabc000, &p1, &p2), -EINVAL);
	assert_int_equal(nvq_prp(page, 0, 0, list, 0xabc000, &p1, &p2), -EINVAL);
}

/* ---- rings ------------------------------------------------------------------------ */

static void test_ring_phase_wrap(void **state)
{
	static uint8_t sq[4 * 64] __attribute__((aligned(64))), cq[4 * 16];
	struct nvq_ring r;
	struct nvq_cqe out[4];
	uint16_t next = 0;

	(void)state;
	nvq_ring_init(&r, sq, cq, 4, &m.sq_db, &m.cq_db);
	ctl_reset(&r);
	for (unsigned round = 0; round < 40; round++) {
		unsigned batch = 1 + round % 3, got = 0;

		for (unsigned i = 0; i < batch; i++) {
			struct nvq_sqe e = { .opc = NVQ_OP_FLUSH, .cid = (uint16_t)(next + i) };

			assert_int_equal(nvq_ring_push(&r, &e), 0);
		}
		nvq_ring_kick(&r);
		/* nothing there before the controller ran: the old tag means empty */
		assert_int_equal(nvq_ring_reap(&r, out, 4), 0);
		ctl_run();
		got = nvq_ring_reap(&r, out, 4);
		assert_int_equal(got, batch);
		for (unsigned i = 0; i < got; i++)
			assert_int_equal(out[i].cid, (uint16_t)(next + i));
		next = (uint16_t)(next + batch);
		assert_int_equal(r.cq_head, m.cq_db);
		assert_int_equal(r.sq_head, r.sq_tail);
	}
	/* 40 rounds of 1-3 entries on 4: the tag flipped many times */
	assert_int_equal(m.ncmds, next);
	assert_true(next > 8 * 4);
	assert_int_equal(r.phase, m.phase);
}

static void test_ring_full(void **state)
{
	static uint8_t sq[8 * 64] __attribute__((aligned(64))), cq[8 * 16];
	struct nvq_sqe e = { .opc = NVQ_OP_FLUSH };
	struct nvq_cqe out[8];
	struct nvq_ring r;

	(void)state;
	nvq_ring_init(&r, sq, cq, 8, &m.sq_db, &m.cq_db);
	ctl_reset(&r);
	/* size - 1 entries: head == tail means empty (§4.1.2) */
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(nvq_ring_push(&r, &e), 0);
	assert_int_equal(nvq_ring_room(&r), 0);
	assert_int_equal(nvq_ring_push(&r, &e), -EBUSY);
	nvq_ring_kick(&r);
	/* fetched is not free: only a CQE's SQ head frees entries */
	m.cq_limit = 3;
	ctl_run();
	assert_int_equal(nvq_ring_push(&r, &e), -EBUSY);
	assert_int_equal(nvq_ring_reap(&r, out, 8), 3);
	assert_int_equal(nvq_ring_room(&r), 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(nvq_ring_push(&r, &e), 0);
	assert_int_equal(nvq_ring_push(&r, &e), -EBUSY);
}

static void test_ring_doorbell_batch(void **state)
{
	static uint8_t sq[16 * 64] __attribute__((aligned(64))), cq[16 * 16];
	struct nvq_sqe e = { .opc = NVQ_OP_FLUSH };
	struct nvq_cqe out[16];
	struct nvq_ring r;

	(void)state;
	nvq_ring_init(&r, sq, cq, 16, &m.sq_db, &m.cq_db);
	ctl_reset(&r);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(nvq_ring_push(&r, &e), 0);
	assert_int_equal(m.sq_db, 0); /* nothing told yet */
	nvq_ring_kick(&r);
	assert_int_equal(m.sq_db, 5);
	assert_int_equal(r.doorbells, 1);
	nvq_ring_kick(&r); /* nothing new: no write */
	assert_int_equal(r.doorbells, 1);
	ctl_run();
	assert_int_equal(nvq_ring_reap(&r, out, 16), 5);
	assert_int_equal(m.cq_db, 5); /* one head write for five */
}

/* ---- requests ---------------------------------------------------------------------- */

static void test_qp_write_read_split(void **state)
{
	struct tq *t = tq_new(16, 4, 4 * PG, 8);
	struct nvq_done d[8];
	char *w = malloc(40 * 1024 + 1), *rd = malloc(40 * 1024);

	(void)state;
	for (unsigned i = 0; i < 40 * 1024; i++)
		w[1 + i] = (char)(i * 13 + 1);
	/* an unaligned program buffer: the bounce slots make it DMA-able */
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_WRITE, w + 1, 40 * 1024, 24, 7), 0);
	assert_int_equal(m.ncmds, 0); /* nothing before poll */
	assert_int_equal(nvq_poll(&t->q, d, 8, 1), 1);
	assert_int_equal(d[0].tag, 7);
	assert_int_equal(d[0].res, 40 * 1024);
	/* 16 + 16 + 8 KiB at slot size 16 KiB: three commands, PRP lists */
	assert_int_equal(m.ncmds, 3);
	assert_int_equal(m.log[0].slba, 24);
	assert_int_equal(m.log[0].nlb, 32);
	assert_int_equal(m.log[1].slba, 24 + 32);
	assert_int_equal(m.log[2].slba, 24 + 64);
	assert_int_equal(m.log[2].nlb, 16);
	assert_int_equal(m.log[0].prp2 % PG, 0);
	assert_memory_equal(m.medium + 24 * 512, w + 1, 40 * 1024);
	memset(rd, 0, 40 * 1024);
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, rd, 40 * 1024, 24, 8), 0);
	assert_int_equal(nvq_poll(&t->q, d, 8, 1), 1);
	assert_int_equal(d[0].res, 40 * 1024);
	assert_memory_equal(rd, w + 1, 40 * 1024);
	/* the medium around it untouched */
	assert_int_equal(m.medium[24 * 512 - 1], (uint8_t)((24 * 512 - 1) * 7 + 3));
	assert_int_equal(m.medium[24 * 512 + 40 * 1024],
			 (uint8_t)((24 * 512 + 40 * 1024) * 7 + 3));
	free(w);
	free(rd);
	tq_free(t);
}

static void test_qp_one_doorbell_per_batch(void **state)
{
	struct tq *t = tq_new(16, 8, PG, 16);
	struct nvq_done d[16];
	static char buf[6][PG];

	(void)state;
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf[i], PG, i * 8, i), 0);
	assert_int_equal(nvq_poll(&t->q, d, 16, 6), 6);
	assert_int_equal(m.ncmds, 6);
	assert_int_equal(t->q.r.doorbells, 1); /* six commands, one doorbell */
	for (unsigned i = 0; i < 6; i++)
		assert_memory_equal(buf[d[i].tag], m.medium + d[i].tag * 8 * 512, PG);
	tq_free(t);
}

static void test_qp_full_and_more_than_slots(void **state)
{
	struct tq *t = tq_new(4, 2, PG, 8);
	struct nvq_done d[8];
	static char buf[8][PG];
	unsigned got = 0, seen = 0;

	(void)state;
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf[i], PG, i * 8, i), 0);
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf[0], PG, 0, 99), -EBUSY);
	/* two slots, a ring of four: eight requests go through in turns */
	while (got < 8) {
		int n = nvq_poll(&t->q, d, 8, 1);

		assert_true(n >= 1);
		for (int i = 0; i < n; i++) {
			assert_int_equal(d[i].res, PG);
			seen |= 1u << d[i].tag;
		}
		got += (unsigned)n;
	}
	assert_int_equal(seen, 0xff);
	assert_int_equal(m.ncmds, 8);
	assert_int_equal(t->q.nfree, 2);
	assert_int_equal(nvq_poll(&t->q, d, 8, 1), 0); /* nothing left: no wait */
	tq_free(t);
}

static void test_qp_flush(void **state)
{
	struct tq *t = tq_new(8, 2, PG, 4);
	struct nvq_done d[2];

	(void)state;
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_FLUSH, NULL, 0, 0, 5), 0);
	assert_int_equal(nvq_poll(&t->q, d, 2, 1), 1);
	assert_int_equal(d[0].tag, 5);
	assert_int_equal(d[0].res, 0);
	assert_int_equal(m.log[0].opc, NVQ_OP_FLUSH);
	assert_int_equal(t->q.nfree, 2); /* a flush takes no slot */
	tq_free(t);
}

static void test_qp_error_status_is_eio(void **state)
{
	struct tq *t = tq_new(8, 4, 4 * PG, 4);
	struct nvq_done d[2];
	static char buf[16 * PG];

	(void)state;
	m.fail_next = 1;
	m.fail_status = 0x281; /* media error type, unrecovered read error */
	/* split in four: the one failed piece fails the request */
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf, 16 * PG, 0, 1), 0);
	assert_int_equal(nvq_poll(&t->q, d, 2, 1), 1);
	assert_int_equal(d[0].res, -EIO);
	assert_int_equal(m.errors_seen, 1);
	assert_int_equal(t->q.s.errors, 1);
	/* the queue goes on */
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf, PG, 0, 2), 0);
	assert_int_equal(nvq_poll(&t->q, d, 2, 1), 1);
	assert_int_equal(d[0].res, PG);
	assert_int_equal(t->q.nfree, 4);
	tq_free(t);
}

static void test_qp_timeout_fails_io(void **state)
{
	struct tq *t = tq_new(8, 4, PG, 4);
	struct nvq_done d[4];
	static char buf[2][PG];

	(void)state;
	m.stopped = 1;
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf[0], PG, 0, 1), 0);
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_WRITE, buf[1], PG, 8, 2), 0);
	/* returns, with both failed, after the timeout (50 ms of fake clock) */
	assert_int_equal(nvq_poll(&t->q, d, 4, 2), 2);
	assert_int_equal(d[0].res, -EIO);
	assert_int_equal(d[1].res, -EIO);
	assert_true(m.clock_ns >= 50000000 && m.clock_ns <= 60000000);
	assert_int_equal(t->q.s.timeouts, 1);
	/* broken for good: no more commands to a controller that may still
	 * write the slots */
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf[0], PG, 0, 3), -EIO);
	m.stopped = 0;
	ctl_run();
	assert_int_equal(nvq_poll(&t->q, d, 4, 1), 0);
	tq_free(t);
}

static void test_qp_flush_timeout_is_longer(void **state)
{
	struct tq *t = tq_new(8, 4, PG, 4);
	struct nvq_done d[4];

	(void)state;
	m.stopped = 1;
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_FLUSH, NULL, 0, 0, 1), 0);
	assert_int_equal(nvq_poll(&t->q, d, 4, 1), 1);
	assert_int_equal(d[0].res, -EIO);
	/* a cache write-back may take long: four timeouts, not one */
	assert_true(m.clock_ns >= 200000000 && m.clock_ns <= 210000000);
	tq_free(t);
}

static void test_qp_dead_controller(void **state)
{
	struct tq *t = tq_new(8, 4, PG, 4);
	struct nvq_done d[4];
	static char buf[PG];
	volatile int dead = 0;

	(void)state;
	t->q.dead = &dead;
	m.stopped = 1;
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf, PG, 0, 1), 0);
	dead = 1; /* shut down at exit under a waiting thread */
	assert_int_equal(nvq_poll(&t->q, d, 4, 1), 1);
	assert_int_equal(d[0].res, -EIO);
	assert_int_equal(m.clock_ns, 0); /* at once, no timeout wait */
	assert_int_equal(nvq_submit(&t->q, NVQ_OP_READ, buf, PG, 0, 2), -EIO);
	tq_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prp_boundaries),
		cmocka_unit_test(test_ring_phase_wrap),
		cmocka_unit_test(test_ring_full),
		cmocka_unit_test(test_ring_doorbell_batch),
		cmocka_unit_test(test_qp_write_read_split),
		cmocka_unit_test(test_qp_one_doorbell_per_batch),
		cmocka_unit_test(test_qp_full_and_more_than_slots),
		cmocka_unit_test(test_qp_flush),
		cmocka_unit_test(test_qp_error_status_is_eio),
		cmocka_unit_test(test_qp_timeout_fails_io),
		cmocka_unit_test(test_qp_flush_timeout_is_longer),
		cmocka_unit_test(test_qp_dead_controller),
	};

	/* a ring that loses its phase spins on stale entries: fail, not hang */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
