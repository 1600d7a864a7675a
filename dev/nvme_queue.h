/*
 * nvme_queue.h - an NVMe queue pair as memory and doorbells: the
 * submission/completion rings (NVMe Base 2.0 §3.3), the PRP entries of a
 * transfer (§4.1.1), and the requests of the transport API on top, with
 * their pinned bounce slots, split into commands of at most one slot.
 * The vfio transport (nvme_vfio.c) gives it memory the controller can
 * reach and the doorbell addresses in BAR0; the unit tests give it plain
 * memory and an in-memory controller (IOVA = virtual address there).
 *
 * One owner: a queue pair (struct nvq_qp, its ring and slots) belongs to
 * the thread that created it. Only that thread submits, polls and
 * destroys it; it holds no lock and takes none, as SPDK's qpairs. Another
 * thread may use it only under a lock of the caller's that every user of
 * that queue pair takes (storage/ctx.c does, for threads past the cap).
 *
 * Errors: negative errno values; a command the controller failed is
 * -EIO (its status goes to the queue's on_error once per call).
 */
#ifndef ACCEL_DEV_NVME_QUEUE_H
#define ACCEL_DEV_NVME_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define NVQ_PAGE 4096u
/* PRP entries in one list page: transfers up to this many pages + 1 */
#define NVQ_PRP_PER_LIST (NVQ_PAGE / 8)

/* Opcodes (NVM command set §7, admin §5). */
enum {
	NVQ_OP_FLUSH = 0x00, NVQ_OP_WRITE = 0x01, NVQ_OP_READ = 0x02,
	NVQ_ADM_DELETE_SQ = 0x00, NVQ_ADM_CREATE_SQ = 0x01, NVQ_ADM_DELETE_CQ = 0x04,
	NVQ_ADM_CREATE_CQ = 0x05, NVQ_ADM_IDENTIFY = 0x06, NVQ_ADM_SET_FEATURES = 0x09,
};

/* Submission queue entry, 64 bytes (§4.2). */
struct nvq_sqe {
	uint8_t opc, flags;
	uint16_t cid;
	uint32_t nsid;
	uint64_t rsvd;
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

/* Completion queue entry, 16 bytes (§4.6): status bit 0 is the phase tag,
 * bits 1-8 the status code, 9-11 its type. */
struct nvq_cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid;
	uint16_t cid;
	uint16_t status;
};

_Static_assert(sizeof(struct nvq_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct nvq_cqe) == 16, "CQE is 16 bytes");

/* ---- the rings ------------------------------------------------------- */

struct nvq_ring {
	volatile struct nvq_sqe *sq;
	volatile struct nvq_cqe *cq;
	volatile uint32_t *sq_db, *cq_db;   /* tail and head doorbells */
	uint16_t size;                      /* entries of each ring */
	uint16_t sq_tail, sq_head;          /* head: as the last CQE told */
	uint16_t db_tail;                   /* the tail last written */
	uint16_t cq_head;
	uint8_t phase;                      /* the tag a new CQE carries */
	uint64_t doorbells;                 /* SQ doorbell writes */
};

/* Zeroed rings of size entries (2..65536) at sq/cq, doorbells at the
 * given addresses. */
void nvq_ring_init(struct nvq_ring *r, void *sq, void *cq, uint16_t size,
		   volatile uint32_t *sq_db, volatile uint32_t *cq_db);

/* Entries free in the SQ (one is always left empty: head == tail is
 * empty, §4.1.2). */
unsigned nvq_ring_room(const struct nvq_ring *r);

/* Copies e into the SQ at the tail; the controller sees it after
 * nvq_ring_kick. -EBUSY when full. */
int nvq_ring_push(struct nvq_ring *r, const struct nvq_sqe *e);

/* One SQ tail doorbell write for everything pushed since the last one
 * (none when nothing was). */
void nvq_ring_kick(struct nvq_ring *r);

/* Up to max new CQEs (phase tag matching), the CQ head doorbell written
 * once for all of them. Returns how many. */
unsigned nvq_ring_reap(struct nvq_ring *r, struct nvq_cqe *out, unsigned max);

/* ---- PRPs -------------------------------------------------------------- */

/*
 * PRP1/PRP2 for len bytes starting off bytes into the first of the
 * buffer's pages (page[i]: the bus address of its page i). One page: PRP1
 * only; two: PRP2 is the second page; more: PRP2 is list_iova, and list
 * (the list page's memory) gets the pages after the first (§4.1.1).
 * -EINVAL when off is not dword aligned or past a page, -E2BIG when the
 * pages after the first do not fit one list page.
 */
int nvq_prp(const uint64_t *page, uint32_t off, uint32_t len, uint64_t *list,
	    uint64_t list_iova, uint64_t *prp1, uint64_t *prp2);

/* ---- requests ---------------------------------------------------------- */

/* The platform: the clock, and what an owner waiting for the controller
 * does between looks (spin, yield, sleep; the tests' controller runs). */
struct nvq_env {
	uint64_t (*now_ns)(void *arg);
	void (*idle)(void *arg, unsigned spins);
	void (*on_error)(void *arg, uint16_t status, uint8_t opc);
	void *arg;
};

/* A bounce slot: slot_bytes of pinned memory, its pages' bus addresses,
 * and the PRP list page of a command using it. */
struct nvq_slot {
	void *va;
	const uint64_t *page;
	uint64_t *list;
	uint64_t list_iova;
	uint16_t req;          /* the request it carries a piece of */
	uint32_t roff, len;    /* which piece */
};

struct nvq_req {
	uint64_t tag;
	char *buf;
	uint64_t lba;          /* first block */
	uint32_t len, sent;    /* bytes; sent: handed to commands */
	uint16_t inflight;     /* commands at the controller */
	uint8_t op;            /* NVQ_OP_*, 0xff: free */
	uint8_t flush_sent;
	int32_t status;        /* 0, or the first error */
};

struct nvq_stats {
	uint64_t cmds, errors, timeouts;
};

struct nvq_qp {
	struct nvq_ring r;
	struct nvq_env env;
	uint32_t nsid;
	uint32_t lba_shift;    /* log2 of the logical block size */
	uint32_t slot_bytes;   /* the largest command's transfer */
	uint64_t timeout_ns;   /* no completion for this long: the I/O fails;
				* four times that while a Flush is out (it
				* writes the whole cache back: Linux's
				* io_timeout, 30 s, is 4 x QEMU's CAP.TO) */
	volatile int *dead;    /* the controller's: set, nothing is sent */
	struct nvq_slot *slot;
	uint16_t nslots, nfree;
	uint16_t *free;        /* stack of free slot indexes */
	struct nvq_req *req;
	uint16_t nreqs;        /* the transport's queue depth */
	uint16_t qhead, qcount;/* requests in submission order (a ring of indexes) */
	uint16_t *order;
	uint16_t inflight;     /* commands at the controller */
	uint16_t flushes;      /* Flush commands among them */
	int broken;            /* timed out: slots may still be written, never reused */
	uint64_t last_ns;      /* last completion, or first command after idle */
	struct nvq_stats s;
};

/* Sets up the request side on a ring already initialised: nslots slots
 * (va, pages and PRP list pages given by the caller), nreqs requests.
 * -ENOMEM. */
int nvq_qp_init(struct nvq_qp *q, uint16_t nslots, uint16_t nreqs);
void nvq_qp_fini(struct nvq_qp *q);

/* Queues a read, write (buf, len multiple of the block size, lba) or
 * flush; nothing is sent before nvq_poll. -EBUSY: nreqs queued already;
 * -EIO: the controller is dead or this queue timed out. */
int nvq_submit(struct nvq_qp *q, uint8_t op, void *buf, uint32_t len, uint64_t lba,
	       uint64_t tag);

struct nvq_done {
	uint64_t tag;
	int32_t res;           /* bytes, or -EIO / -EFAULT */
};

/*
 * Sends what is queued (one doorbell per round), reaps completions and
 * returns up to max finished requests, waiting until at least wait have
 * finished or nothing is left to wait for. When no command completes for
 * timeout_ns, every unfinished request ends with -EIO and the queue is
 * broken for good.
 */
int nvq_poll(struct nvq_qp *q, struct nvq_done *out, unsigned max, unsigned wait);

#endif
