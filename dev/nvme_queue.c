/*
 * nvme_queue.c - rings, PRPs and requests of an NVMe queue pair, on
 * memory someone else provides. See nvme_queue.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/guard.h"
#include "nvme_queue.h"

#define REQ_FREE 0xff

/* ---- rings ---------------------------------------------------------------- */

void nvq_ring_init(struct nvq_ring *r, void *sq, void *cq, uint16_t size,
		   volatile uint32_t *sq_db, volatile uint32_t *cq_db)
{
	memset(r, 0, sizeof(*r));
	r->sq = sq;
	r->cq = cq;
	r->size = size;
	r->sq_db = sq_db;
	r->cq_db = cq_db;
	/* A new CQ is zeroed and the controller's first pass writes tag 1
	 * (§4.6: "inverted each time the controller wraps"). */
	r->phase = 1;
	memset(sq, 0, (size_t)size * sizeof(struct nvq_sqe));
	memset(cq, 0, (size_t)size * sizeof(struct nvq_cqe));
}

unsigned nvq_ring_room(const struct nvq_ring *r)
{
	unsigned used = (unsigned)(r->sq_tail + r->size - r->sq_head) % r->size;

	return r->size - 1u - used;
}

int nvq_ring_push(struct nvq_ring *r, const struct nvq_sqe *e)
{
	if (!nvq_ring_room(r))
		return -EBUSY;
	memcpy((void *)&r->sq[r->sq_tail], e, sizeof(*e));
	r->sq_tail = (uint16_t)((r->sq_tail + 1u) % r->size);
	return 0;
}

void nvq_ring_kick(struct nvq_ring *r)
{
	if (r->db_tail == r->sq_tail)
		return;
	/* The entries must be in memory before the controller fetches them
	 * on the doorbell write (§3.3.1.1). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*r->sq_db = r->sq_tail;
	r->db_tail = r->sq_tail;
	r->doorbells++;
}

unsigned nvq_ring_reap(struct nvq_ring *r, struct nvq_cqe *out, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		volatile struct nvq_cqe *c = &r->cq[r->cq_head];

		if ((c->status & 1u) != r->phase)
			break;
		/* the tag first, the rest after it (it is written last) */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		memcpy(&out[n], (const void *)c, sizeof(*c));
		if (out[n].sqhd < r->size)
			r->sq_head = out[n].sqhd;
		n++;
		if (++r->cq_head == r->size) {
			r->cq_head = 0;
			r->phase ^= 1u;
		}
	}
	if (n) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*r->cq_db = r->cq_head;
	}
	return n;
}

/* ---- PRPs ------------------------------------------------------------------ */

int nvq_prp(const uint64_t *page, uint32_t off, uint32_t len, uint64_t *list,
	    uint64_t list_iova, uint64_t *prp1, uint64_t *prp2)
{
	uint32_t first = NVQ_PAGE - off, pages;

	if ((off & 3u) || off >= NVQ_PAGE || !len)
		return -EINVAL;
	*prp1 = page[0] + off;
	*prp2 = 0;
	if (len <= first)
		return 0;
	pages = (len - first + NVQ_PAGE - 1) / NVQ_PAGE; /* after the first */
	if (pages == 1) {
		*prp2 = page[1];
		return 0;
	}
	if (pages > NVQ_PRP_PER_LIST)
		return -E2BIG;
	for (uint32_t i = 0; i < pages; i++)
		list[i] = page[1 + i];
	*prp2 = list_iova;
	return 0;
}

/* ---- requests -------------------------------------------------------------- */

int nvq_qp_init(struct nvq_qp *q, uint16_t nslots, uint16_t nreqs)
{
	q->nslots = nslots;
	q->nreqs = nreqs;
	q->free = calloc(nslots, sizeof(*q->free));
	q->req = calloc(nreqs, sizeof(*q->req));
	q->order = calloc(nreqs, sizeof(*q->order));
	if (!q->free || !q->req || !q->order) {
		nvq_qp_fini(q);
		return -ENOMEM;
	}
	for (uint16_t i = 0; i < nslots; i++)
		q->free[i] = (uint16_t)(nslots - 1 - i);
	q->nfree = nslots;
	for (uint16_t i = 0; i < nreqs; i++)
		q->req[i].op = REQ_FREE;
	q->qhead = q->qcount = q->inflight = q->flushes = 0;
	q->broken = 0;
	return 0;
}

void nvq_qp_fini(struct nvq_qp *q)
{
	free(q->free);
	free(q->req);
	free(q->order);
	q->free = NULL;
	q->req = NULL;
	q->order = NULL;
}

static int qp_dead(const struct nvq_qp *q)
{
	return q->broken || (q->dead && *q->dead);
}

int nvq_submit(struct nvq_qp *q, uint8_t op, void *buf, uint32_t len, uint64_t lba,
	       uint64_t tag)
{
	struct nvq_req *r = NULL;
	uint16_t i;

	if (qp_dead(q))
		return -EIO;
	if (q->qcount == q->nreqs)
		return -EBUSY;
	for (i = 0; i < q->nreqs; i++)
		if (q->req[i].op == REQ_FREE) {
			r = &q->req[i];
			break;
		}
	if (!r)
		return -EBUSY;
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->tag = tag;
	r->buf = buf;
	r->len = op == NVQ_OP_FLUSH ? 0 : len;
	r->lba = lba;
	q->order[(q->qhead + q->qcount) % q->nreqs] = i;
	q->qcount++;
	return 0;
}

static int req_unsent(const struct nvq_req *r)
{
	return r->op == NVQ_OP_FLUSH ? !r->flush_sent : r->sent < r->len;
}

/* One command for the next piece of r (index ri): 1 sent, 0 no room. */
static int send_piece(struct nvq_qp *q, struct nvq_req *r, uint16_t ri)
{
	struct nvq_sqe e;
	struct nvq_slot *s;
	uint32_t piece;
	uint16_t si;

	memset(&e, 0, sizeof(e));
	e.nsid = q->nsid;
	if (r->op == NVQ_OP_FLUSH) {
		e.opc = NVQ_OP_FLUSH;
		e.cid = (uint16_t)(q->nslots + ri);
		if (nvq_ring_push(&q->r, &e) < 0)
			return 0;
		r->flush_sent = 1;
		r->inflight++;
		q->flushes++;
		return 1;
	}
	if (!q->nfree || !nvq_ring_room(&q->r))
		return 0;
	piece = r->len - r->sent < q->slot_bytes ? r->len - r->sent : q->slot_bytes;
	si = q->free[q->nfree - 1];
	s = &q->slot[si];
	if (r->op == NVQ_OP_WRITE && accel_copy_in(s->va, r->buf + r->sent, piece) < 0) {
		r->status = -EFAULT; /* the caller's bad buffer: nothing more of it */
		r->sent = r->len;
		return 1;
	}
	if (nvq_prp(s->page, 0, piece, s->list, s->list_iova, &e.prp1, &e.prp2) < 0) {
		r->status = -EIO;
		r->sent = r->len;
		return 1;
	}
	q->nfree--;
	s->req = ri;
	s->roff = r->sent;
	s->len = piece;
	e.opc = r->op;
	e.cid = si;
	e.cdw10 = (uint32_t)(r->lba + (r->sent >> q->lba_shift));
	e.cdw11 = (uint32_t)((r->lba + (r->sent >> q->lba_shift)) >> 32);
	e.cdw12 = (piece >> q->lba_shift) - 1u; /* NLB is 0's based */
	nvq_ring_push(&q->r, &e);
	r->sent += piece;
	r->inflight++;
	return 1;
}

/* Every queued request's pieces, in order, while slots and entries last;
 * one doorbell write for all. */
static void pump(struct nvq_qp *q)
{
	unsigned before = q->r.sq_tail;

	for (uint16_t k = 0; k < q->qcount; k++) {
		uint16_t ri = q->order[(q->qhead + k) % q->nreqs];
		struct nvq_req *r = &q->req[ri];
		int stop = 0;

		while (req_unsent(r) && !stop)
			stop = !send_piece(q, r, ri);
		if (stop)
			break; /* in order: a later request does not pass this one */
	}
	if (q->r.sq_tail != before) {
		unsigned n = (q->r.sq_tail + q->r.size - before) % q->r.size;

		if (!q->inflight && q->env.now_ns)
			q->last_ns = q->env.now_ns(q->env.arg);
		q->inflight = (uint16_t)(q->inflight + n);
		q->s.cmds += n;
		nvq_ring_kick(&q->r);
	}
}

static void complete_one(struct nvq_qp *q, const struct nvq_cqe *c)
{
	uint16_t status = (uint16_t)(c->status >> 1) & 0x7ff; /* SC | SCT << 8 */
	struct nvq_req *r;
	struct nvq_slot *s = NULL;

	if (c->cid < q->nslots) {
		s = &q->slot[c->cid];
		r = &q->req[s->req];
	} else if (c->cid < q->nslots + q->nreqs) {
		r = &q->req[c->cid - q->nslots];
	} else {
		return; /* not ours: a controller bug; the timeout catches the rest */
	}
	if (r->op == REQ_FREE || !r->inflight)
		return;
	if (status) {
		if (!r->status)
			r->status = -EIO;
		q->s.errors++;
		if (q->env.on_error)
			q->env.on_error(q->env.arg, status, r->op);
	} else if (s && r->op == NVQ_OP_READ && !r->status &&
		   accel_copy_out(r->buf + s->roff, s->va, s->len) < 0) {
		r->status = -EFAULT;
	}
	if (s)
		q->free[q->nfree++] = c->cid;
	else
		q->flushes--;
	r->inflight--;
	q->inflight--;
}

/* Finished requests out, in any order; the submission ring of indexes
 * closes over the gaps. */
static unsigned collect(struct nvq_qp *q, struct nvq_done *out, unsigned max)
{
	unsigned n = 0;
	uint16_t k = 0;

	while (k < q->qcount && n < max) {
		uint16_t pos = (uint16_t)((q->qhead + k) % q->nreqs);
		struct nvq_req *r = &q->req[q->order[pos]];

		if (req_unsent(r) || r->inflight) {
			k++;
			continue;
		}
		out[n].tag = r->tag;
		out[n].res = r->status ? r->status : (int32_t)r->len;
		n++;
		r->op = REQ_FREE;
		/* close the gap: shift the later ones down by one */
		for (uint16_t j = k; j + 1u < q->qcount; j++)
			q->order[(q->qhead + j) % q->nreqs] =
				q->order[(q->qhead + j + 1u) % q->nreqs];
		q->qcount--;
	}
	return n;
}

/* No completion for timeout_ns: every request ends in EIO, the slots stay
 * the controller's (it may still write them), the queue sends no more. */
static void time_out(struct nvq_qp *q)
{
	q->broken = 1;
	q->s.timeouts++;
	for (uint16_t k = 0; k < q->qcount; k++) {
		struct nvq_req *r = &q->req[q->order[(q->qhead + k) % q->nreqs]];

		r->status = -EIO;
		r->sent = r->len;
		r->flush_sent = 1;
		r->inflight = 0;
	}
	q->inflight = 0;
	q->flushes = 0;
}

int nvq_poll(struct nvq_qp *q, struct nvq_done *out, unsigned max, unsigned wait)
{
	struct nvq_cqe c[16];
	unsigned n = 0, spins = 0;

	for (;;) {
		unsigned got;

		if (qp_dead(q) && !q->broken) {
			time_out(q); /* the controller was shut down under us */
			q->s.timeouts--;
		}
		if (!q->broken)
			pump(q);
		while ((got = nvq_ring_reap(&q->r, c, 16))) {
			for (unsigned i = 0; i < got; i++)
				complete_one(q, &c[i]);
			if (q->env.now_ns)
				q->last_ns = q->env.now_ns(q->env.arg);
			spins = 0;
		}
		if (!q->broken)
			pump(q); /* slots freed: the next pieces */
		n += collect(q, out + n, max - n);
		if (n >= wait || n == max || !q->qcount)
			return (int)n;
		if (q->inflight && q->env.now_ns &&
		    q->env.now_ns(q->env.arg) - q->last_ns >
			    (q->flushes ? 4 * q->timeout_ns : q->timeout_ns)) {
			time_out(q);
			continue;
		}
		if (q->env.idle)
			q->env.idle(q->env.arg, spins);
		spins++;
	}
}
